"""A render killed with SIGKILL at any moment leaves the old tree or the new one, never a mix.

A render of ~200 services runs in a subprocess through a small driver that wraps the file-system calls
gitops-gen writes with (os.replace, fsync, unlink, rmdir, mkdir, the write of a staged file, syncfs): it
can SIGKILL itself right before the n-th of them (exact kill points, including either side of the journal's commit point), or slow each down
a little so that a kill sent from outside at a random moment lands inside the write. The test hooks live
here only; gitops-gen itself has none. After each kill a reader sees a whole tree, and `recover` (which
the next render runs first) leaves exactly the old tree or the new one, byte for byte.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.render import render_all
from generator.tree import JOURNAL_NAME, apply_plan, plan_render, plan_tree, recover

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SERVICES = 200

DRIVER = """
import os, signal, sys, time

kill_at = int(os.environ.get("KILL_AT_OP", "0"))
pause = float(os.environ.get("PAUSE_PER_OP", "0"))
log = open(os.environ["OP_LOG"], "w", buffering=1)
count = 0

def wrap(name, real):
    def op(*args, **kwargs):
        global count
        count += 1
        log.write(f"{count} {name} {args[-1] if args else ''}\\n")
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if pause:
            time.sleep(pause)
        return real(*args, **kwargs)
    return op

for name in ("replace", "fsync", "unlink", "rmdir", "mkdir"):
    setattr(os, name, wrap(name, getattr(os, name)))

from generator import tree
for name in ("_write_new", "_syncfs"):  # each staged file, each syncfs(2)
    setattr(tree, name, wrap(name, getattr(tree, name)))

from generator.cli import main
sys.argv[0] = "gitops-gen"
main()
"""


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def make_config(config: Path) -> None:
    """SERVICES copies of the reviews spec (each with its own AnalysisTemplate name) in the demo env."""
    (config / "services").mkdir(parents=True)
    shutil.copytree(ROOT / "environments", config / "environments")
    reviews = (ROOT / "services/reviews.yaml").read_text()
    for number in range(1, SERVICES + 1):
        write_service(config, number, reviews)


def write_service(config: Path, number: int, reviews: str) -> None:
    name = f"svc{number:03d}"
    text = (
        reviews.replace("name: reviews", f"name: {name}")
        .replace("templateName: apdex", f"templateName: {name}")
        .replace("serviceAccount: bookinfo-reviews", f"serviceAccount: {name}")
    )
    (config / f"services/{name}.yaml").write_text(text)


def change_config(config: Path) -> None:
    """20 services deleted, 80 changed, 20 added: the new tree adds, changes and prunes files."""
    reviews = (ROOT / "services/reviews.yaml").read_text()
    for number in range(1, 21):
        (config / f"services/svc{number:03d}.yaml").unlink()
    for number in range(21, 101):
        spec = config / f"services/svc{number:03d}.yaml"
        spec.write_text(spec.read_text().replace("replicas: 5", "replicas: 7"))
    for number in range(SERVICES + 1, SERVICES + 21):
        write_service(config, number, reviews)


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("kill")
    config, old, new = base / "config", base / "old", base / "new"
    make_config(config)
    apply_plan(plan_render(config, old))
    (old / "README.md").write_text("hand-written, not gitops-gen's\n")
    (old / "demo/services/bookinfo/NOTES.md").write_text("also not gitops-gen's\n")
    change_config(config)
    shutil.copytree(old, new)
    apply_plan(plan_render(config, new))
    return {"config": config, "old": old, "new": new, "base": base}


def start(trees: dict[str, Path], out: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(trees["old"], out)
    driver = trees["base"] / "driver.py"
    driver.write_text(DRIVER)
    # --no-validate: this test is about the write; validation only makes each run slower. --no-cache: the
    # render cache's own writes would be counted as file operations of the first run only.
    return subprocess.Popen(
        [
            sys.executable,
            str(driver),
            "render",
            "--no-validate",
            "--no-cache",
            "--config",
            str(trees["config"]),
            "--out",
            str(out),
        ],
        env={**os.environ, "OP_LOG": str(log), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_killed_render_leaves_the_old_tree_or_the_new_one(trees: dict[str, Path]) -> None:
    old, new = snapshot(trees["old"]), snapshot(trees["new"])
    assert old != new
    base = trees["base"]
    new_manifests = render_all(trees["config"])

    # one complete run: how many file operations a write takes, and which one commits the journal
    log = base / "full.log"
    process = start(trees, base / "full", log)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()
    assert snapshot(base / "full") == new
    operations = log.read_text().splitlines()
    total = len(operations)
    commit = next(
        int(line.split()[0])
        for line in operations
        if " replace " in line and line.endswith(f"/{JOURNAL_NAME}")
    )
    assert 100 < commit < total

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kill_points = sorted({1, commit, commit + 1, total, *rng.sample(range(2, total), 3)})
    outcomes: dict[str, str] = {}

    planned = plan_tree(trees["old"], new_manifests)
    whole_trees = [(planned.added, planned.changed, planned.removed), ((), (), ())]

    def check(out: Path, what: str) -> None:
        # a reader (render --check, diff) sees a whole tree even before recovery
        seen = plan_tree(out, new_manifests)
        assert (seen.added, seen.changed, seen.removed) in whole_trees, (
            f"{what}: a reader saw a mix (seed {seed})"
        )
        recover(out)
        after = snapshot(out)
        assert after in (old, new), f"{what} left a mix (seed {seed})"
        outcomes[what] = "new" if after == new else "old"

    for point in kill_points:
        out = base / f"at-{point}"
        process = start(trees, out, base / f"at-{point}.log", KILL_AT_OP=str(point))
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == -signal.SIGKILL, (point, stderr.decode())
        check(out, f"kill before operation {point}/{total}")
        shutil.rmtree(out)
    assert outcomes[f"kill before operation {commit}/{total}"] == "old"
    assert outcomes[f"kill before operation {commit + 1}/{total}"] == "new"

    # kills from outside at random moments of the write (each operation slowed down by 2 ms)
    for attempt in range(3):
        out = base / f"timed-{attempt}"
        log = base / f"timed-{attempt}.log"
        process = start(trees, out, log, PAUSE_PER_OP="0.002")
        try:
            # a loaded machine can take long to render: wait for the first file operation, not a clock
            deadline = time.monotonic() + 300
            while not (log.exists() and log.stat().st_size) and process.poll() is None:
                assert time.monotonic() < deadline, "the render never started writing"
                time.sleep(0.005)
            time.sleep(rng.uniform(0, total * 0.002))
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=300)
        check(out, f"kill {attempt} after {len(log.read_text().splitlines())} operations")
        shutil.rmtree(out)

    # the next render finishes or redoes the work by itself
    out = base / "again"
    process = start(trees, out, base / "again.log", KILL_AT_OP=str(commit + (total - commit) // 2))
    process.communicate(timeout=300)
    assert (out / JOURNAL_NAME).exists()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from generator.cli import main; main()",
            "render",
            "--config",
            str(trees["config"]),
            "--out",
            str(out),
        ],
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert snapshot(out) == new
