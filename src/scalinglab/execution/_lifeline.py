"""Worker processes die with the study process that started them.

Two mechanisms, because either alone has gaps: on Linux ``prctl(PR_SET_PDEATHSIG)`` has the
kernel send SIGTERM to the worker when its parent dies (under ``forkserver`` the parent is
the fork server, which exits with the study process); everywhere, a daemon thread watches
the study process's pid (and the worker's parent pid) and exits the worker when it is gone.
A run the worker held stays RUNNING under a dead pid; the next ``scalinglab run`` gives it
back to WAITING (:func:`scalinglab.execution.release_orphans`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

__all__ = ["die_with_parent", "pid_alive", "process_gone"]

_PR_SET_PDEATHSIG = 1


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (absent, or a zombie waiting to be reaped)."""
    if not pid_alive(pid):
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def die_with_parent(study_pid: int, interval_s: float = 0.5) -> None:
    """Make this process exit when the study process ``study_pid`` (or its parent) dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    parent = os.getppid()
    if parent != study_pid and process_gone(parent):
        os._exit(0)  # the parent died before the death signal was armed
    if process_gone(study_pid):
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent or process_gone(study_pid):
                os._exit(0)

    threading.Thread(target=watch, name="scalinglab-lifeline", daemon=True).start()
