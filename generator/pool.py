"""When a command may fork workers to use the other cores, and how many there are.

Fork, not spawn: a forked worker starts with everything its parent loaded and compiled (schemas, specs,
the resolved environment), where a spawned one would import and read it all again. It is safe only on
Linux (macOS's system libraries are not fork-safe, which is why CPython spawns there) and in a process
with no other thread (a thread holding a lock at the fork leaves that lock held forever in the child).
"""

from __future__ import annotations

import os
import sys


def jobs_setting() -> int | None:
    """$GITOPS_GEN_JOBS: the most processes a command may run at once (1: no workers), if set."""
    jobs = os.environ.get("GITOPS_GEN_JOBS", "")
    return int(jobs) if jobs.isdigit() and int(jobs) >= 1 else None


def cores() -> int:
    """The processes a command may run at once: $GITOPS_GEN_JOBS when set, else the cores this process
    may run on (its CPU affinity, as a container or taskset limits it)."""
    jobs = jobs_setting()
    if jobs is not None:
        return jobs
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


def processes_for_equal_tasks(tasks: int) -> int:
    """How many processes run `tasks` tasks of about the same size that cannot be split: one each while
    they are at most twice the cores, so that all of them finish together (three environments on two
    cores take one and a half environments' time, not two), else one per core."""
    limit = jobs_setting()
    if limit is not None:
        return min(limit, tasks)
    return tasks if tasks <= 2 * cores() else cores()
