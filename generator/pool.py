"""When a command may fork workers to use the other cores, and how many there are.

Fork, not spawn: a forked worker starts with everything its parent loaded and compiled (schemas, specs,
the resolved environment), where a spawned one would import and read it all again. It is safe only on
Linux (macOS's system libraries are not fork-safe, which is why CPython spawns there) and in a process
with no other thread (a thread holding a lock at the fork leaves that lock held forever in the child).
"""

from __future__ import annotations

import os
import sys


def cores() -> int:
    """The processes a command may run at once: $GITOPS_GEN_JOBS when set (1: no workers), else the cores
    this process may run on (its CPU affinity, as a container or taskset limits it)."""
    jobs = os.environ.get("GITOPS_GEN_JOBS", "")
    if jobs.isdigit() and int(jobs) >= 1:
        return int(jobs)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    import multiprocessing
    import threading

    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )
