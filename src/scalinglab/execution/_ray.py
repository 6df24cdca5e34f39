"""The Ray executor: the same worker loop, placed on a Ray cluster's nodes.

Ray is the engine; scalinglab adds no scheduler. The executor keeps a pool of Ray tasks in
flight, each asking for one run's resources (``execution.cpus_per_run`` / ``gpus_per_run``);
each task runs :func:`~scalinglab.execution.worker_loop` against the shared storage, claiming
WAITING runs (the database's atomic claim coordinates every worker of every ``scalinglab run``
process) until none is left, then returns. Ray decides where the tasks run; the executor only
replaces tasks that ended while runs still wait, and handles the ones that died.

Ray is imported here only, and only when the executor starts.
"""

from __future__ import annotations

import contextlib
import math
import os
import uuid
from typing import Any

from scalinglab._errors import ScalingLabError, invalid_parameter, require_extra
from scalinglab.execution._base import Executor, WorkerDeath
from scalinglab.execution._worker import WorkerJob, worker_id, worker_loop
from scalinglab.storage import RunState, Storage, open_storage

__all__ = ["RayExecutor"]

# Storage handles of a Ray worker process, by URL: Ray reuses worker processes across tasks,
# and reconnecting to the database for every task would cost more than the claim itself.
_STORES: dict[str, Storage] = {}
_DEFAULT_OBJECT_STORE_BYTES = 200 * 1024**2


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _ray_worker(job: WorkerJob, token: str, cpus: float) -> dict[str, Any]:
    """Body of one Ray task: claim and execute runs until none is waiting.

    The worker id is ``host:pid:ray-<node>-<token>``: the host and pid let a resumed study on
    the same host tell whether the process still lives, the Ray node id tells which node ran
    the run (several nodes may share a host), and the token lets the driver find the runs a
    dead task held.
    """
    import ray

    node = ray.get_runtime_context().get_node_id()
    worker = worker_id(f"ray-{node[:16]}-{token}")
    store = _STORES.get(job.storage_url)
    if store is None:
        store = _STORES[job.storage_url] = open_storage(job.storage_url, migrate=False)
    done = worker_loop(job, worker, stop=lambda: False, storage=store, exit_when_idle=True,
                       single_thread=cpus <= 1)
    return {"worker": worker, "node": node, "runs": done}


class RayExecutor(Executor):
    """Runs a study's runs as Ray tasks, on a local Ray instance or an existing cluster.

    Parameters
    ----------
    address : str, optional
        ``host:port`` of a running cluster's head (``ray start --head``), or ``"auto"``, or a
        ``ray://`` client address. ``None`` (default) starts a private local Ray instance,
        which is shut down when the executor stops.
    workers : int, optional
        Most runs in flight at once. Default: as many as the cluster's CPUs (and GPUs, when
        runs ask for GPUs) hold when the executor starts.
    cpus_per_run, gpus_per_run : float, optional
        Resources each run asks of Ray; default: the spec's ``[execution]`` values.
    num_cpus : int, optional
        CPUs of a local instance (default: the cores); ignored with ``address``.
    object_store_bytes : int
        Object store of a local instance (runs pass no data through it; 200 MB).
    max_deaths : int, optional
        Give up (raise) after this many tasks died without holding a run, which means the
        task cannot start on the cluster (default: 3 per worker).

    Notes
    -----
    Telemetry is off unless ``RAY_USAGE_STATS_ENABLED`` says otherwise, and a local instance
    binds to 127.0.0.1 without a dashboard.
    """

    def __init__(self, address: str | None = None, *, workers: int | None = None,
                 cpus_per_run: float | None = None, gpus_per_run: float | None = None,
                 num_cpus: int | None = None,
                 object_store_bytes: int = _DEFAULT_OBJECT_STORE_BYTES,
                 max_deaths: int | None = None) -> None:
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise invalid_parameter("workers", "RayExecutor", "an integer >= 1", workers)
        self.address = address
        self._workers = workers
        self._cpus, self._gpus = cpus_per_run, gpus_per_run
        self._num_cpus = num_cpus
        self._object_store_bytes = object_store_bytes
        self._max_deaths = max_deaths
        self._session = uuid.uuid4().hex[:8]
        self._submitted = 0
        self._idle_deaths = 0
        self._target = workers or 1
        self._refs: dict[Any, str] = {}
        self._remote: Any = None
        self._owns_ray = False
        self._job: WorkerJob | None = None
        self._storage: Storage | None = None
        #: What every finished task reported: worker id, node id, runs executed.
        self.finished: list[dict[str, Any]] = []

    @property
    def n_workers(self) -> int:
        return self._target

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, job: WorkerJob, storage: Storage) -> None:
        self._job, self._storage = job, storage
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray = require_extra("ray", "ray")
        if not ray.is_initialized():
            self._init(ray)
        cpus = float(self._cpus if self._cpus is not None else job.extra.get("cpus_per_run", 1.0))
        gpus = float(self._gpus if self._gpus is not None else job.extra.get("gpus_per_run", 0.0))
        self._target = self._workers or self._capacity(ray, cpus, gpus)
        if self._max_deaths is None:
            self._max_deaths = 3 * self._target
        # max_retries=0: a task that died is handled here (its run failed or released, a new
        # task submitted), so Ray's own retry would only run a second loop on the side.
        self._remote = ray.remote(_ray_worker).options(
            num_cpus=cpus, num_gpus=gpus, max_retries=0, name="scalinglab-worker")
        self._cpus_per_task = cpus
        for _ in range(self._target):
            self._submit()

    def _init(self, ray: Any) -> None:
        kwargs: dict[str, Any] = {"logging_level": "WARNING", "log_to_driver": False}
        if self.address is None:
            kwargs.update(address="local", num_cpus=self._num_cpus, include_dashboard=False,
                          object_store_memory=self._object_store_bytes,
                          _node_ip_address="127.0.0.1")
        else:
            kwargs["address"] = self.address
            host = self.address.rpartition(":")[0].removeprefix("ray://").strip("[]")
            if _is_loopback(host) and host not in ("127.0.0.1", "localhost", "::1"):
                # A cluster bound to a loopback address (127.0.0.2...): the driver must find
                # the local raylet under the same address. (Ray itself maps 127.0.0.1 and
                # localhost to the machine's routable address.)
                kwargs["_node_ip_address"] = host
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise ScalingLabError(
                f"Cannot connect to the Ray cluster at {self.address!r}: {exc}".splitlines()[0]
            ) from None
        self._owns_ray = True

    @staticmethod
    def _capacity(ray: Any, cpus: float, gpus: float) -> int:
        resources = ray.cluster_resources()
        fits = [math.floor(resources.get("CPU", 0.0) / cpus + 1e-9)] if cpus > 0 else []
        if gpus > 0:
            fits.append(math.floor(resources.get("GPU", 0.0) / gpus + 1e-9))
        # At least one: Ray queues it until a node with the resources joins.
        return max(1, min(fits) if fits else 1)

    def _submit(self) -> None:
        assert self._job is not None
        token = f"{self._session}-{self._submitted}"
        self._submitted += 1
        self._refs[self._remote.remote(self._job, token, self._cpus_per_task)] = token

    def _tokens(self) -> list[str]:
        """Tokens of every task this executor has submitted."""
        return [f"{self._session}-{i}" for i in range(self._submitted)]

    def _held(self, tokens: list[str]) -> list[Any]:
        assert self._job is not None and self._storage is not None
        suffixes = tuple(f"-{t}" for t in tokens)
        return [r for r in self._storage.get_runs(self._job.study_id, [RunState.RUNNING])
                if r.worker and r.worker.endswith(suffixes)]

    def check(self) -> list[WorkerDeath]:
        assert self._job is not None and self._storage is not None
        import ray

        deaths: list[WorkerDeath] = []
        if self._refs:
            ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
            for ref in ready:
                token = self._refs.pop(ref)
                try:
                    self.finished.append(ray.get(ref))
                except Exception as exc:  # the task died or could not start
                    deaths.append(self._handle_death(token, exc))
        # Tasks return when no run is waiting; the search may plan more (next phase) and
        # dead tasks need replacing: keep the pool full while runs wait.
        if (len(self._refs) < self._target
                and self._storage.count_runs(self._job.study_id)[RunState.WAITING]):
            for _ in range(self._target - len(self._refs)):
                self._submit()
        return deaths

    def _handle_death(self, token: str, exc: Exception) -> WorkerDeath:
        assert self._job is not None and self._storage is not None
        import ray.exceptions as rex

        node_lost = isinstance(exc, rex.NodeDiedError | rex.LocalRayletDiedError)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        held = self._held([token])
        run_id, state = None, None
        for run in held:
            run_id = run.id
            if node_lost:
                # The node went away, not the task's fault: the run goes back to WAITING
                # without counting a failure and runs on another node.
                self._storage.release_runs(self._job.study_id, workers=[run.worker or ""])
                state = RunState.WAITING
            else:
                state = self._storage.fail_run(
                    run.id, run.worker,
                    f"The Ray task running this run died ({type(exc).__name__}: {reason}); "
                    f"the task crashed its worker, or the node was lost.",
                    self._job.max_attempts)
        if not held and not node_lost:
            self._idle_deaths += 1
            if self._idle_deaths > (self._max_deaths or 0):
                raise ScalingLabError(
                    f"{self._idle_deaths} Ray tasks died without running anything (last: "
                    f"{type(exc).__name__}: {reason}); the task cannot start on the cluster. "
                    f"Try workers=0 to see its error.")
        return WorkerDeath(f"ray:{token}", None, run_id, state)

    def stop(self, grace_s: float = 2.0) -> int:
        if self._remote is None:
            return 0
        import ray

        refs = list(self._refs)
        if refs and not self._held(self._tokens()):
            # No task holds a run: the study is done and the tasks are returning on their own
            # (they exit when idle). Let them, so their reports are not lost to a cancel; on a
            # loaded machine a return can take seconds, and nothing is lost by waiting for it.
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=max(grace_s, 10.0))
            for ref in ready:
                self._refs.pop(ref)
                # A task dying on its way out held no run: nothing to report or recover.
                with contextlib.suppress(Exception):
                    self.finished.append(ray.get(ref))
            refs = list(self._refs)
        if refs:
            # KeyboardInterrupt in each running task first, then kill what is still running.
            for ref in refs:
                ray.cancel(ref, force=False)
            _, pending = ray.wait(refs, num_returns=len(refs), timeout=grace_s)
            for ref in pending:
                ray.cancel(ref, force=True)
            if pending:
                ray.wait(pending, num_returns=len(pending), timeout=5.0)
        released = 0
        if self._storage is not None and self._job is not None:
            held = self._held(self._tokens())
            if held:
                released = self._storage.release_runs(
                    self._job.study_id, workers=[r.worker or "" for r in held])
        self._refs.clear()
        self._remote = None
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
        return released
