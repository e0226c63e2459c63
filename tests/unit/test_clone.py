"""clone.py without git: blob ids, the journal's round trip and its refusal of other formats, and whether
a killed run has anything left. The checks and the recovery run against real git in
tests/e2e/test_publish_kill.py."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator import clone
from generator.errors import GeneratorError
from generator.gitops import Git


def held(tmp_path: Path) -> clone.Clone:
    git_dir = tmp_path / ".git"
    git_dir.mkdir(exist_ok=True)
    return clone.Clone(Git(tmp_path), tmp_path, git_dir, git_dir, str(tmp_path), clone.Run.this())


def test_blob_ids_are_git_s() -> None:
    assert clone.blob_id(b"", "sha1") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert clone.blob_id(b"hello\n", "sha1") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert len(clone.blob_id(b"hello\n", "sha256")) == 64


def test_planned_files_name_repository_paths() -> None:
    files = clone.planned_files("rendered", {"demo/a.yaml": b""}, ["demo/old.yaml"], "sha1")
    assert files == {
        "rendered/demo/a.yaml": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
        "rendered/demo/old.yaml": clone.DELETED,
    }
    assert clone.planned_files(".", {"a.yaml": b""}, [], "sha1") == {
        "a.yaml": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    }


def test_the_journal_round_trips_and_is_removed(tmp_path: Path) -> None:
    work = held(tmp_path)
    journal = clone.Journal(
        "rendered", "main", "a" * 40, ("a" * 40,), ("b" * 40,), {"rendered/x": "c" * 40}, work.run
    )
    work.write_journal(journal)
    assert clone.read_journal(work) == journal
    assert json.loads(work.journal_path.read_text())["format"] == clone.JOURNAL_FORMAT
    assert not (work.git_dir / (clone.JOURNAL_FILE + ".new")).exists()
    work.remove_journal()
    assert clone.read_journal(work) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "cannot read the journal of an interrupted publish"),
        ('{"format": 99}', "not a gitops-gen publish journal (format 1)"),
        ('{"format": 1, "path": "rendered"}', "not a gitops-gen publish journal (format 1)"),
    ],
)
def test_a_damaged_journal_is_refused(tmp_path: Path, text: str, words: str) -> None:
    work = held(tmp_path)
    work.journal_path.write_text(text)
    with pytest.raises(GeneratorError, match=re.escape(words)) as caught:
        clone.read_journal(work)
    assert caught.value.exit_code == 2


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_run_is_left_while_a_process_of_its_group_is() -> None:
    assert clone._left_of(clone.Run.this())  # this very process
    # a run that started a long git (here: sleep), in a process group of its own
    script = (
        "import subprocess, time; print(subprocess.Popen(['sleep', '30']).pid, flush=True); time.sleep(30)"
    )
    run_process = subprocess.Popen(
        [sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    try:
        assert run_process.stdout is not None
        git_pid = int(run_process.stdout.readline())
        run = clone.Run(run_process.pid, run_process.pid, clone._start_time(run_process.pid), 0)
        assert clone._left_of(run)
        run_process.kill()  # only the run: its git lives on
        run_process.wait()
        assert clone._left_of(run)
        os.kill(git_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while clone._left_of(run):  # until the git is reaped by init
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run_process.pid, signal.SIGKILL)
        run_process.communicate()
