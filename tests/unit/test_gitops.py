"""gitops: credential redaction, the scrubbed git environment, identities, and status parsing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from generator import gitops
from generator.errors import GeneratorError
from generator.gitops import Git, Identity, parse_identity, redact, secrets_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:secret@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("https://ghp_token123@github.com/o/r.git", "https://***@github.com/o/r.git"),
        (
            "fatal: unable to access 'https://x-access-token:abc@h/r/': refused",
            "fatal: unable to access 'https://***@h/r/': refused",
        ),
        ("ssh://git@host:22/r.git", "ssh://***@host:22/r.git"),
        (
            "git@github.com:o/r.git and https://github.com/o/r.git",
            "git@github.com:o/r.git and https://github.com/o/r.git",
        ),
        ("two: http://a:b@h1/ and https://c:d@h2/", "two: http://***@h1/ and https://***@h2/"),
    ],
)
def test_redact_removes_user_info(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_secrets_are_also_removed_where_they_appear_alone() -> None:
    url = "https://user:p%40ss%2Fword@github.com/o/r.git"
    secrets = secrets_of(url)
    assert set(secrets) == {"p%40ss%2Fword", "p@ss/word"}
    assert redact("password p@ss/word was refused; p%40ss%2Fword too", secrets) == (
        "password *** was refused; *** too"
    )
    assert secrets_of("https://tok3n@h/r") == ("tok3n",)
    assert secrets_of("ssh://git@host/r") == ()  # a user name in ssh is no secret
    assert secrets_of("https://git@host/r") == ()  # nor a short word: "git" is in every message
    assert secrets_of("https://github.com/o/r") == ()
    assert secrets_of("https://u:x@h/r") == ()  # too short to be replaced everywhere


def test_git_environment_removes_inherited_git_variables_and_restores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "GIT_DIR": "/elsewhere/.git",
        "GIT_WORK_TREE": "/elsewhere",
        "GIT_INDEX_FILE": "/elsewhere/.git/index",
        "GIT_TRACE_CURL": "1",
        "GIT_CONFIG_PARAMETERS": "'user.name'='Someone'",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_SSH_COMMAND": "ssh -i key",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GIT_TERMINAL_PROMPT", raising=False)
    before = dict(os.environ)
    with gitops.git_environment():
        for gone in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_TRACE_CURL", "GIT_CONFIG_PARAMETERS"):
            assert gone not in os.environ
        for kept in (
            "GIT_CONFIG_KEY_0",
            "GIT_SSH_COMMAND",
            "GIT_AUTHOR_NAME",
            "GIT_COMMITTER_EMAIL",
            "GIT_CONFIG_GLOBAL",
            "GIT_CONFIG_NOSYSTEM",
        ):
            assert os.environ[kept] == before[kept]
        assert os.environ["GIT_TERMINAL_PROMPT"] == "0"
    assert dict(os.environ) == before


def test_a_given_terminal_prompt_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "1")
    with gitops.git_environment():
        assert os.environ["GIT_TERMINAL_PROMPT"] == "1"
    assert os.environ["GIT_TERMINAL_PROMPT"] == "1"


def test_parse_identity() -> None:
    assert parse_identity("gitops bot <bot@example.com>", "--author") == Identity(
        "gitops bot", "bot@example.com"
    )
    assert str(parse_identity("  A B  <a@b> ", "--author")) == "A B <a@b>"
    for bad in ("bot@example.com", "<a@b>", "A <a b>", "A <a@b> trailing"):
        with pytest.raises(GeneratorError, match=r"--committer .*expected 'Name <email>'"):
            parse_identity(bad, "--committer")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_failures_show_command_status_and_output_redacted(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    g = Git.at(tmp_path, ("s3cret",))
    with pytest.raises(gitops.ToolError) as caught:
        g.run("rev-parse", "--verify", "https://u:s3cret@h/nothing")
    text = str(caught.value)
    assert "`git rev-parse --verify https://***@h/nothing` failed (exit 128)" in text
    assert "stderr:\n    fatal:" in text
    assert "s3cret" not in text
    assert caught.value.exit_code == 3


def test_status_lists_staged_unstaged_untracked_and_renames(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "d").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "d" / name).write_text(name)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "init")
    (tmp_path / "d" / "a").write_text("changed")
    git(tmp_path, "mv", "d/b", "d/b2")
    (tmp_path / "d" / "new dir").mkdir()
    (tmp_path / "d" / "new dir" / "x y").write_text("untracked")
    g = Git.at(tmp_path)
    assert sorted((s.code, s.path) for s in gitops.status(g, "d")) == [
        (" M", "d/a"),
        ("??", "d/new dir/x y"),
        ("R ", "d/b"),
        ("R ", "d/b2"),
    ]
    assert gitops.staged(g, "d") == {"d/b", "d/b2"}
    assert gitops.tracked(g, "d") == {"d/a", "d/b2", "d/c"}


def test_identity_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q")
    g = Git.at(tmp_path)
    bot = Identity("bot", "bot@example.com")
    assert gitops.identity_env(g, bot, None) == {
        "GIT_AUTHOR_NAME": "bot",
        "GIT_AUTHOR_EMAIL": "bot@example.com",
    }
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{role}_NAME")
        monkeypatch.delenv(f"GIT_{role}_EMAIL")
    git(tmp_path, "config", "user.useConfigOnly", "true")  # no identity guessed from the host name
    with pytest.raises(GeneratorError, match="no author identity"):
        gitops.identity_env(g, None, None)
    # without a committer identity, the author commits
    assert gitops.identity_env(g, bot, None) == {
        "GIT_AUTHOR_NAME": "bot",
        "GIT_AUTHOR_EMAIL": "bot@example.com",
        "GIT_COMMITTER_NAME": "bot",
        "GIT_COMMITTER_EMAIL": "bot@example.com",
    }
