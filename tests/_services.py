"""Test services the tests start and stop themselves: a PostgreSQL server and Ray clusters.

PostgreSQL: Debian's package (``initdb`` / ``pg_ctl`` on the PATH or in
``/usr/lib/postgresql/*/bin``), run as an unprivileged user (Postgres refuses root; as root
the ``postgres`` user of Debian's package runs it through ``runuser``), in a temporary
directory, listening on 127.0.0.1 on a free port, with a password (scram-sha-256) so that the
URLs carry credentials like real ones. One server per test session (per xdist worker), one
fresh database per test. Where no server can be had the tests skip with the reason.

Ray: ``ray start --block`` processes of the venv's ``ray``, each in its own process group,
bound to 127.0.0.1, telemetry and dashboard off; stopped by killing those process groups,
then every process whose command line names the cluster's private temp dir is checked gone.
Each ``ray start`` is armed to get SIGTERM when the test process dies, so a pytest killed
without teardown leaves no cluster behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
_PR_SET_PDEATHSIG = 1  # prctl(2): signal sent to this process when its parent dies


# -- PostgreSQL ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@dataclass
class PostgresServer:
    """A running throw-away server; ``url(db)`` gives a SQLAlchemy URL with the password."""

    port: int
    user: str
    password: str
    root: Path
    data: Path
    pg_ctl: str
    prefix: list[str]
    databases: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return (f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/"
                f"{database}")

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user,
                             password=self.password, dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "stop", "-m",
                        "immediate", "-w"], capture_output=True, timeout=60, check=False)
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():  # pg_ctl failed: stop the postmaster by its own pid
            with contextlib.suppress(Exception):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Start a server or raise ``RuntimeError`` saying why it cannot be had."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                           "install Debian's 'postgresql' package")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("psycopg is not installed (pip install 'scalinglab[postgres]')") from exc
    prefix: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        import pwd

        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and no 'postgres' user to run the server as "
                               "(Debian's 'postgresql' package creates it)") from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root and 'runuser' is not available") from None
        prefix, owner = [runuser, "-u", "postgres", "--"], (entry.pw_uid, entry.pw_gid)
    root = Path(tempfile.mkdtemp(prefix="scalinglab-pg-"))
    data, password = root / "data", secrets.token_urlsafe(16)
    (root / "pw").write_text(password + "\n")
    if owner is not None:
        os.chmod(root, 0o700)
        os.chown(root, *owner)
        os.chown(root / "pw", *owner)
    server = PostgresServer(port=0, user="scalinglab", password=password, root=root,
                            data=data, pg_ctl=pg_ctl, prefix=prefix)
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-U", "scalinglab", f"--pwfile={root / 'pw'}",
             "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True, timeout=120, check=True)
        for _ in range(5):  # a free port may be taken between probing and binding
            port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=200")
            started = subprocess.run(
                [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"),
                 "-w", "-t", "60", "start"], capture_output=True, text=True, timeout=90,
                check=False)
            if started.returncode == 0:
                server.port = port
                return server
        log = (root / "log").read_text() if (root / "log").exists() else started.stderr
        raise RuntimeError(f"pg_ctl start failed: {log.strip().splitlines()[-1:]}")
    except subprocess.CalledProcessError as exc:
        server.stop()
        raise RuntimeError(f"initdb failed: {exc.stderr.strip()[-300:]}") from None
    except BaseException:
        server.stop()
        raise


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session (skips with the reason when unavailable)."""
    try:
        server = start_postgres()
    except RuntimeError as exc:
        if os.environ.get("SCALINGLAB_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL (with its password) of a fresh, empty database."""
    return postgres_server.create_database()


# -- Ray -------------------------------------------------------------------------------------
# One token per test session: the nodes and drivers of the tests' clusters authenticate with
# it (Ray's token auth), never with a token from ~/.ray.
_RAY_TOKEN = secrets.token_hex(32)


def ray_env() -> dict[str, str]:
    """Environment of the tests' Ray processes and of drivers that join their clusters."""
    env = dict(os.environ)
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=_RAY_TOKEN,
               # The tests kill nodes: notice a dead one in ~2 s instead of ~30 s.
               RAY_health_check_period_ms="500", RAY_health_check_timeout_ms="1000",
               RAY_health_check_failure_threshold="3", RAY_health_check_initial_delay_ms="0")
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@dataclass
class RayCluster:
    """Nodes started by ``ray start --block``; ``address`` is the head's GCS address."""

    address: str
    temp_dir: Path
    nodes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    @property
    def head_ip(self) -> str:
        return self.address.rpartition(":")[0]

    def add_node(self, num_cpus: int = 1) -> subprocess.Popen[bytes]:
        node = _ray_start(["--address", self.address], self.temp_dir, num_cpus,
                          len(self.nodes), self.logs, f"127.0.0.{2 + len(self.nodes)}")
        self.nodes.append(node)
        return node

    def kill_node(self, node: subprocess.Popen[bytes]) -> None:
        """SIGKILL every process of a node (raylet, GCS, its workers): a lost machine.

        Ray puts each worker in a process group of its own, but all stay in the session that
        ``start_new_session`` gave the node's ``ray start``; they are found by that session id.
        """
        for _ in range(3):  # a process may fork while we kill
            for pid in session_pids(node.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        node.wait(30)

    def signal_node(self, node: subprocess.Popen[bytes], signum: int) -> None:
        """Send ``signum`` to every process of a node (SIGSTOP freezes it, SIGCONT thaws it)."""
        for _ in range(3):  # a process may fork meanwhile
            for pid in session_pids(node.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)

    def wait_nodes(self, n: int, timeout_s: float = 60) -> None:
        """Wait until ``n`` nodes are alive in the cluster."""
        code = ("import ray,sys; ray.init(address=sys.argv[1], _node_ip_address=sys.argv[2], "
                "logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))")
        deadline = time.monotonic() + timeout_s
        alive = -1
        while time.monotonic() < deadline:
            out = subprocess.run([sys.executable, "-c", code, self.address, self.head_ip], env=ray_env(),
                                 capture_output=True, text=True, timeout=60, check=False)
            with contextlib.suppress(ValueError, IndexError):
                alive = int(out.stdout.strip().splitlines()[-1])
            if alive >= n:
                return
            time.sleep(0.5)
        raise RuntimeError(f"only {alive} of {n} Ray nodes came up: {self.tail()}")

    def node_id_prefix(self, index: int) -> str:
        """The first 16 hex digits of the Ray node id of ``nodes[index]`` (by its address)."""
        ip = f"127.0.0.{2 + index}"
        code = ("import ray,sys; ray.init(address=sys.argv[1], _node_ip_address=sys.argv[2], "
                "logging_level='ERROR'); print([n['NodeID'] for n in ray.nodes() "
                "if n['NodeManagerAddress'] == sys.argv[3]][0])")
        out = subprocess.run([sys.executable, "-c", code, self.address, self.head_ip, ip],
                             env=ray_env(), capture_output=True, text=True, timeout=60,
                             check=True)
        return out.stdout.strip().splitlines()[-1][:16]

    def tail(self) -> str:
        return " | ".join(p.read_text(errors="replace")[-400:] for p in self.logs if p.exists())

    def stop(self) -> list[str]:
        """Kill every node's process group; return the processes left running (none)."""
        for node in reversed(self.nodes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3  # Ray drains up to 30 s on SIGTERM; no need here
        for node in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.wait(max(0.1, deadline - time.monotonic()))
        for node in self.nodes:
            self.kill_node(node)

        def leftovers() -> list[str]:
            # By session (Ray workers have process groups of their own) and by the cluster's
            # private temp dir on a command line (anything that left the session).
            pids = [f"{pid}: session of a node" for node in self.nodes
                    for pid in session_pids(node.pid)]
            return pids + processes_mentioning(str(self.temp_dir))

        deadline = time.monotonic() + 10
        while (left := leftovers()) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        return left


def session_pids(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                found.append(int(entry.name))
    return found


def processes_mentioning(marker: str) -> list[str]:
    """``pid: cmdline`` of live processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
            if marker in cmd and ") Z " not in stat:  # zombies are already dead
                found.append(f"{entry.name}: {cmd[:200]}")
    return found


def _ray_start(extra: list[str], temp_dir: Path, num_cpus: int, index: int,
               logs: list[Path], ip: str) -> subprocess.Popen[bytes]:
    log = temp_dir.parent / f"{temp_dir.name}-node{index}.log"
    logs.append(log)
    ports = [
        "--node-manager-port", str(free_port()), "--object-manager-port", str(free_port()),
        "--metrics-export-port", str(free_port()),
        "--dashboard-agent-listen-port", str(free_port()),
        "--dashboard-agent-grpc-port", str(free_port()),
        "--runtime-env-agent-port", str(free_port()),
        "--min-worker-port", "0", "--max-worker-port", "0",
    ]
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(VENV_BIN / "ray"), "start", "--block", *extra, "--node-ip-address",
             ip, "--num-cpus", str(num_cpus), "--num-gpus", "0",
             "--object-store-memory", str(100 * 1024**2), "--disable-usage-stats",
             "--temp-dir", str(temp_dir), *ports],
            stdout=out, stderr=subprocess.STDOUT, env=ray_env(), start_new_session=True,
            preexec_fn=_terminate_with_parent)


def _terminate_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGTERM when the test process dies.

    A pytest killed by a timeout (or SIGKILL) runs no fixture teardown; ``ray start --block``
    shuts its node down on SIGTERM, so the node does not outlive the test session.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def start_ray_cluster(n_nodes: int = 2, num_cpus: int = 1) -> RayCluster:
    """A head node plus ``n_nodes - 1`` worker nodes on this machine, loopback only."""
    if not (VENV_BIN / "ray").exists():
        raise RuntimeError(f"no 'ray' command in {VENV_BIN} (pip install 'scalinglab[ray]')")
    # Short path: Ray's unix sockets live under it (108-byte limit).
    temp_dir = Path(tempfile.mkdtemp(prefix="slray", dir="/tmp"))
    port = free_port()
    # Loopback addresses, one per node. Not 127.0.0.1: Ray 2.x replaces "localhost" and
    # 127.0.0.1 by the machine's routable address (unless multi-node clusters are disabled),
    # but keeps any other 127.x address.
    cluster = RayCluster(f"127.0.0.2:{port}", temp_dir, [], [])
    head = ["--head", "--port", str(port), "--include-dashboard", "false",
            "--ray-client-server-port", str(free_port())]
    try:
        cluster.nodes.append(_ray_start(head, temp_dir, num_cpus, 0, cluster.logs,
                                        cluster.head_ip))
        cluster.wait_nodes(1)
        for _ in range(n_nodes - 1):
            cluster.add_node(num_cpus)
        cluster.wait_nodes(n_nodes)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture
def ray_cluster() -> Iterator[RayCluster]:
    """A fresh 2-node Ray cluster; asserts that nothing of it is left running afterwards."""
    if not (VENV_BIN / "ray").exists():
        pytest.skip(f"no 'ray' command in {VENV_BIN} (pip install 'scalinglab[ray]')")
    cluster = start_ray_cluster(2)
    try:
        yield cluster
    finally:
        left = cluster.stop()
    assert not left, f"Ray processes left running: {left}"
