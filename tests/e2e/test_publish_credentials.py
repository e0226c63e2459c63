"""`gitops-gen publish` from a URL with credentials, against a real smart-HTTP git server: `git
http-backend` behind a small HTTP server on 127.0.0.1 that demands HTTP Basic auth. The token must
authenticate, never be written to disk (the temporary clone of a run killed with SIGKILL is searched
for it), never be shown, and never be handed to a credential helper the user configured. The next run
removes the folder a killed run left; runs going on at the same time keep theirs. No mocks."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import git as gitpython
import pytest
from click.testing import CliRunner, Result

from generator.cli import cli

pytestmark = pytest.mark.slow

USER, PASSWORD = "deploy", "s3cr3t/t0ken@x"  # the URL holds it percent-encoded, as it must
ENCODED = "s3cr3t%2Ft0ken%40x"
TOKEN = "s3cr3t"  # every form of the password contains it: the URL's, git's decoded one
WAIT = 300  # seconds: a bound for a stuck test, never an expectation


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def subjects(repo: Path, ref: str = "main") -> list[str]:
    return git(repo, "log", "--format=%s", ref).splitlines()


def backend() -> Path:
    found = Path(git(Path.cwd(), "--exec-path").strip()) / "git-http-backend"
    if not os.access(found, os.X_OK):
        pytest.skip(f"no git-http-backend at {found}: the smart-HTTP server these tests need")
    return found


# ---- a smart-HTTP git server --------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: str
    user: str | None  # None: no or wrong credentials (answered 401)
    headers: dict[str, str]


class GitServer(ThreadingHTTPServer):
    """git http-backend (CGI) for the repositories under `root`, to users with these passwords.
    `hold`, when set, sees each authenticated request first and may keep it waiting, or refuse it by
    returning False (503)."""

    daemon_threads = True

    def __init__(self, root: Path, users: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root, self.users, self.backend = root, users, backend()
        self.seen: list[Seen] = []
        self.hold: Callable[[Seen], bool] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def attempts(self) -> set[str | None]:
        """The users requests came as, None for a missing or wrong password."""
        return {seen.user for seen in self.seen if "Authorization" in seen.headers}


class _Handler(BaseHTTPRequestHandler):
    server: GitServer

    def log_message(self, format: str, *args: object) -> None:  # quiet: pytest shows what failed
        pass

    def do_GET(self) -> None:
        self.serve()

    def do_POST(self) -> None:
        self.serve()

    def user(self) -> str | None:
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return None
        user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        return user if self.server.users.get(user) == password else None

    def body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # trailers
            pass
        return b"".join(chunks)

    def serve(self) -> None:
        path, _, query = self.path.partition("?")
        seen = Seen(self.command, path, query, self.user(), dict(self.headers))
        self.server.seen.append(seen)
        if seen.user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="gitops"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.body()
        if self.server.hold is not None and not self.server.hold(seen):
            self.send_error(503, "refused by the test")
            return
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": seen.user,  # http-backend enables receive-pack for authenticated users only
            "REMOTE_ADDR": self.client_address[0],
        }
        for header, variable in (
            ("Git-Protocol", "GIT_PROTOCOL"),
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
        ):
            if header in self.headers:
                env[variable] = self.headers[header]
        cgi = subprocess.run(
            [str(self.server.backend)], input=body, env=env, capture_output=True, timeout=WAIT
        )
        head, _, payload = cgi.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    """gitops.git, one commit on main, served to deploy/PASSWORD."""
    root = tmp_path / "served"
    bare = root / "gitops.git"
    gitpython.Repo.init(bare, bare=True, initial_branch="main").close()
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / "README.md").write_text("The GitOps repository\n")
    commit_all(seed, "initial")
    git(seed, "push", "-q", "origin", "main")
    srv = GitServer(root, {USER: PASSWORD})
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.hold = None
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def config(example_config: Path) -> Path:
    git(example_config, "init", "-q", "-b", "main")
    commit_all(example_config, "config")
    return example_config


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp folder of publish runs in this process (TMPDIR for the ones in a subprocess)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def url(server: GitServer, userinfo: str) -> str:
    return server.url.replace("://", f"://{userinfo}@" if userinfo else "://") + "/gitops.git"


def publish(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(
        cli, ["publish", "--config", str(config), "--validator", "builtin", *args], catch_exceptions=False
    )
    assert "Traceback" not in result.output
    return result


def start(config: Path, scratch: Path, *args: str) -> subprocess.Popen[str]:
    """`gitops-gen publish` in a process of its own, with its temp folder in `scratch`."""
    command = ["publish", "--config", str(config), "--validator", "builtin", *args]
    return subprocess.Popen(
        [sys.executable, "-c", "from generator.cli import main; main()", *command],
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def holding(folder: Path, secret: str) -> list[str]:
    """The files under `folder` that contain `secret`, or the Basic-auth header made of it: their bytes,
    or for git's zlib-compressed loose objects their content."""
    needles = [secret.encode(), base64.b64encode(f"{USER}:{PASSWORD}".encode())]
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        with contextlib.suppress(zlib.error):
            data += zlib.decompress(data)
        if any(needle in data for needle in needles):
            found.append(str(path.relative_to(folder)))
    return found


def leftovers(scratch: Path) -> list[Path]:
    return sorted(scratch.glob("gitops-gen-publish-*"))


def global_config(text: str) -> None:
    with Path(os.environ["GIT_CONFIG_GLOBAL"]).open("a") as config:
        config.write(text)


# ---- authenticating -----------------------------------------------------------------------------------


@dataclass
class Store:
    """The user's own credential helper: git's `store`, which writes what it is given to a file."""

    path: Path
    text: str


@pytest.fixture
def store(tmp_path: Path, server: GitServer) -> Store:
    path = tmp_path / "git-credentials"
    text = url(server, f"{USER}:wrong-password").removesuffix("/gitops.git") + "\n"
    path.write_text(text)
    global_config(f"[credential]\n\thelper = store --file {path}\n")
    return Store(path, text)


@pytest.mark.parametrize(
    ("userinfo", "user", "password"),
    [(f"{USER}:{ENCODED}", USER, PASSWORD), ("ghp_s3cr3t%2Bx", "ghp_s3cr3t+x", "")],
    ids=["user and password", "token as user name"],
)
def test_the_urls_credentials_authenticate_and_go_nowhere_else(
    config: Path,
    server: GitServer,
    scratch: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    userinfo: str,
    user: str,
    password: str,
) -> None:
    """The user's `store` helper holds a wrong password for the host and would write the right one to
    its file: it is neither asked nor told. The user's own GIT_CONFIG_* settings still apply."""
    server.users[user] = password
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "http.extraHeader")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "X-Gitops-Test: kept")

    result = publish(config, "--repo", url(server, userinfo), "--push")

    assert result.exit_code == 0, result.stderr
    assert TOKEN not in result.output
    assert "pushed" in result.stderr
    assert len(subjects(server.root / "gitops.git")) == 2
    assert server.attempts() == {user}
    assert all(seen.headers.get("X-Gitops-Test") == "kept" for seen in server.seen)
    assert {(s.method, s.query) for s in server.seen if s.user} >= {
        ("GET", "service=git-upload-pack"),
        ("GET", "service=git-receive-pack"),
        ("POST", ""),
    }
    assert store.path.read_text() == store.text
    assert leftovers(scratch) == []


def test_a_wrong_token_fails_with_3_and_is_never_shown(
    config: Path, server: GitServer, scratch: Path
) -> None:
    result = publish(config, "--repo", url(server, f"{USER}:{ENCODED}-expired"), "--push")
    assert result.exit_code == 3
    assert TOKEN not in result.output and "expired" not in result.output
    assert f"cannot clone http://***@127.0.0.1:{server.server_address[1]}/gitops.git" in result.stderr
    assert f"fatal: Authentication failed for '{server.url}/gitops.git/'" in result.stderr
    assert server.attempts() == {None}  # asked once, no prompt, no other helper
    assert subjects(server.root / "gitops.git") == ["initial"]
    assert leftovers(scratch) == []


def test_a_url_without_credentials_is_left_to_the_users_helper(
    config: Path, server: GitServer, store: Store
) -> None:
    store.path.write_text(url(server, f"{USER}:{ENCODED}").removesuffix("/gitops.git") + "\n")
    result = publish(config, "--repo", url(server, ""), "--push")
    assert result.exit_code == 0, result.stderr
    assert server.attempts() == {USER}


@pytest.mark.parametrize(
    "repo",
    ["ssh://git:s3cr3t-pw@127.0.0.1/gitops.git", "http://dep%0Aloy:s3cr3t-pw@127.0.0.1/gitops.git"],
    ids=["password in an ssh URL", "line break in the user name"],
)
def test_credentials_git_cannot_use_safely_are_refused(config: Path, repo: str, scratch: Path) -> None:
    result = publish(config, "--repo", repo, "--push")
    assert result.exit_code == 2
    assert TOKEN not in result.output
    assert "://***@127.0.0.1/gitops.git: " in result.stderr
    assert leftovers(scratch) == []


# ---- a killed run -------------------------------------------------------------------------------------


def test_a_killed_publish_leaves_no_token_and_the_next_one_removes_its_folder(
    config: Path, server: GitServer, scratch: Path
) -> None:
    """The server holds the first push: the clone exists, the commit is made, git is talking to the
    remote. Its files are searched for the token then, and again after a SIGKILL; the next publish
    removes the folder, though the killed run's `git push` is still alive (it does not hold the lock)."""
    reached, release = threading.Event(), threading.Event()

    def hold(seen: Seen) -> bool:
        if seen.method == "POST" and seen.path.endswith("/git-receive-pack") and not reached.is_set():
            reached.set()
            release.wait(WAIT)
            return False
        return True

    server.hold = hold
    repo = url(server, f"{USER}:{ENCODED}")
    process = start(config, scratch, "--repo", repo, "--push")
    try:
        while not reached.wait(0.05):
            assert process.poll() is None, process.communicate()
        [folder] = leftovers(scratch)
        assert (folder / "repo" / ".git" / "config").is_file()
        assert holding(scratch, TOKEN) == []
        assert git(folder / "repo", "config", "remote.origin.url").strip() == f"{server.url}/gitops.git"
        assert git(folder / "repo", "log", "-1", "--format=%s").startswith("gitops-gen: ")

        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=WAIT)
        assert process.returncode == -signal.SIGKILL
        assert leftovers(scratch) == [folder]
        assert holding(scratch, TOKEN) == []

        result = publish(config, "--repo", repo, "--push")
        assert result.exit_code == 0, result.stderr
        assert f"removed 1 temporary folder(s) left in {scratch} by killed publish runs" in result.stderr
        assert leftovers(scratch) == []
        assert len(subjects(server.root / "gitops.git")) == 2
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_only_folders_of_dead_runs_are_removed(config: Path, tmp_path: Path, scratch: Path) -> None:
    """Beside a dead run's folder: one whose run is alive (its flock is held, here by the test), one
    being set up (no mark yet), another program's, and a symlink planted under the name."""
    bare = tmp_path / "remote.git"
    gitpython.Repo.init(bare, bare=True, initial_branch="main").close()
    dead, alive, setting_up = (scratch / f"gitops-gen-publish-{name}" for name in ("dead", "alive", "new"))
    for folder in (dead, alive):
        (folder / "repo" / ".git").mkdir(parents=True)
        (folder / ".locked").touch()
    setting_up.mkdir()
    other = scratch / "kubeconform-cache"
    other.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / ".locked").touch()
    (scratch / "gitops-gen-publish-link").symlink_to(target)
    fd = os.open(alive, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = publish(config, "--repo", bare.as_uri(), "--push")
        assert result.exit_code == 0, result.stderr
        assert f"removed 1 temporary folder(s) left in {scratch}" in result.stderr
        assert not dead.exists()
        assert leftovers(scratch) == sorted([alive, setting_up, scratch / "gitops-gen-publish-link"])
        assert other.is_dir() and (target / ".locked").is_file()
    finally:
        os.close(fd)


def test_four_publishers_racing_from_one_url_all_land(
    config: Path, server: GitServer, tmp_path: Path, scratch: Path
) -> None:
    """Four runs share the temp folder; the server holds each clone until all four have started, so the
    last to start sweeps while the others' folders are in use. All four commits land; nothing is left."""
    names = ["demo", "prod1", "prod2", "prod3"]
    demo = (config / "environments/demo.yaml").read_text()
    for number, name in enumerate(names[1:], start=2):
        (config / f"environments/{name}.yaml").write_text(
            demo.replace("cp-cluster-1", f"cp-cluster-{number}")
        )
    commit_all(config, "three prod environments")
    repo = url(server, f"{USER}:{ENCODED}")
    assert publish(config, "--repo", repo, "--push").exit_code == 0
    configs = []
    for number, name in enumerate(names):
        copy = tmp_path / f"config-{name}"
        shutil.copytree(config, copy)
        with (copy / f"environments/{name}.yaml").open("a") as env:
            env.write(f"services:\n  reviews:\n    replicas: {number + 6}\n")
        commit_all(copy, f"{name}: {number + 6} replicas")
        configs.append(copy)

    clones = threading.Barrier(len(names), timeout=WAIT)
    held: list[Seen] = []
    lock = threading.Lock()

    def hold(seen: Seen) -> bool:
        with lock:
            first = seen.query == "service=git-upload-pack" and len(held) < len(names)
            if first:
                held.append(seen)
        if first:
            clones.wait()
        return True

    server.hold = hold
    processes = [
        start(copy, scratch, "--env", name, "--repo", repo, "--push", "--retry-delay", "0")
        for copy, name in zip(configs, names, strict=True)
    ]
    outcomes = [(process.communicate(timeout=WAIT), process.returncode) for process in processes]

    for (out, err), code in outcomes:
        assert code == 0, err
        assert "pushed=true" in out
        assert TOKEN not in out + err
    log = subjects(server.root / "gitops.git")
    assert sorted(log[:4]) == sorted(f"gitops-gen: {name}/reviews" for name in names)
    for number, name in enumerate(names):
        rollout = f"rendered/{name}/services/bookinfo/reviews/rollout.yaml"
        assert f"replicas: {number + 6}" in git(server.root / "gitops.git", "show", f"main:{rollout}")
    assert leftovers(scratch) == []
