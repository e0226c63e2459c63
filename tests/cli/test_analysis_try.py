"""`gitops-gen analysis try` against a local OAP: graphql-core serving the shipped SkyWalking query protocol
over real HTTP, with canned minutes per service name (generator/skywalking_oap answers the query, as for
`gitops-gen test`). The server also records what the provider-shaped request looked like."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from generator import skywalking_oap
from generator.cli import cli

CANARY = "canary|reviews|bookinfo|cp-cluster-1|-"
AT = "2030-01-01 1200"


@dataclass
class Oap:
    url: str
    minutes: dict[str, list[skywalking_oap.Minute]] = field(default_factory=dict)
    release: str = "10.4.0"
    mode: str = "graphql"  # graphql | errors | slow | http-500 | not-json
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def oap() -> Iterator[Oap]:
    state = Oap("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server names it so
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "payload": payload})
            if state.mode == "slow":
                time.sleep(2)
            if state.mode == "http-500":
                self.reply(500, b"internal error", "text/plain")
            elif state.mode == "not-json":
                self.reply(200, b"<html>a login page</html>", "text/html")
            elif state.mode == "not-http":  # e.g. another protocol on the port
                self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")
            elif state.mode == "errors":
                body = {
                    "errors": [{"message": "Exception while fetching data (/readMetricsValues)"}],
                    "data": None,
                }
                self.reply(200, json.dumps(body).encode(), "application/json")
            else:
                body = skywalking_oap.respond(
                    payload["query"],
                    payload["variables"],
                    lambda request: state.minutes.get(request.service, [None] * len(request.points)),
                    state.release,
                )
                self.reply(200, json.dumps(body).encode(), "application/json")

        def reply(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def try_(config: Path, oap_url: str, *args: str) -> Result:
    result = CliRunner().invoke(
        cli,
        ["analysis", "try", "--config", str(config), "--env", "demo", "--service", "reviews", "--oap", oap_url,
         "--at", AT, *args],
    )  # fmt: skip
    assert "Traceback" not in result.output, result.output
    return result


def test_a_healthy_canary_would_pass_now(example_config: Path, oap: Oap) -> None:
    oap.minutes[CANARY] = [9950, 9990, None, 9970]
    result = try_(example_config, oap.url)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(
        "demo/reviews: metric apdex (AnalysisTemplate apdex), OAP 10.4.0, Argo Rollouts v1.9\n"
    )
    assert (
        f"  asked: POST {oap.url}/graphql, window 2030-01-01 1157 .. 2030-01-01 1200 (step MINUTE)\n" in out
    )
    assert "  minutes: [9950, 9990, null, 9970]\n" in out
    assert out.endswith("  measurement now: Successful\n")
    # The request is the provider's: POST <address>/graphql, JSON, the query and one variable.
    (request,) = oap.requests
    assert request["path"] == "/graphql"
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert request["headers"]["Accept"] == "application/json; charset=utf-8"
    assert set(request["payload"]) == {"query", "variables"}
    assert request["payload"]["variables"] == {
        "duration": {"start": "2030-01-01 1157", "end": "2030-01-01 1200", "step": "MINUTE"}
    }
    assert f'serviceName: "{CANARY}"' in request["payload"]["query"]
    assert "{{" not in request["payload"]["query"]


def test_a_regression_would_fail(example_config: Path, oap: Oap) -> None:
    oap.minutes[CANARY] = [9950, 9500, 9990, 9970]
    result = try_(example_config, oap.url)
    assert result.exit_code == 1
    assert result.stdout.endswith("  measurement now: Failed\n")


def test_a_service_name_matching_nothing_is_called_out(example_config: Path, oap: Oap) -> None:
    oap.minutes["canary|reviews|bookinfo|another-cluster|-"] = [9950, 9990, 9990, 9970]
    result = try_(example_config, oap.url)
    assert result.exit_code == 1
    assert (
        "  minutes: [null, null, null, null]\n  no data: every minute of the window is empty."
        in result.stdout
    )
    assert "subset|service|namespace|cluster|-" in result.stdout
    assert result.stdout.endswith("  measurement now: Failed\n")


def test_graphql_errors_exit_3(example_config: Path, oap: Oap) -> None:
    oap.mode = "errors"
    result = try_(example_config, oap.url)
    assert result.exit_code == 3
    assert result.stderr.startswith(
        f"gitops-gen: the OAP at {oap.url}/graphql refused the query of apdex: Exception while fetching data"
    )
    assert "the measurement would be an Error" in result.stderr


def test_a_release_without_is_empty_value_refuses_the_query(example_config: Path, oap: Oap) -> None:
    oap.release = "9.4.0"  # the environment says 10.4.0 (the default)
    result = try_(example_config, oap.url)
    assert result.exit_code == 3
    assert "Cannot query field 'isEmptyValue' on type 'KVInt'." in result.stderr


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("http-500", "answered HTTP 500 Internal Server Error"),
        ("not-json", "answered with something that is not JSON"),
        ("not-http", "answered with something that is not HTTP"),
    ],
)
def test_an_answer_that_is_not_graphql_exits_3(
    example_config: Path, oap: Oap, mode: str, message: str
) -> None:
    oap.mode = mode
    result = try_(example_config, oap.url)
    assert result.exit_code == 3
    assert result.stderr.startswith(f"gitops-gen: the OAP at {oap.url}/graphql {message}")


def test_a_slow_oap_times_out(example_config: Path, oap: Oap) -> None:
    oap.mode = "slow"
    result = try_(example_config, oap.url, "--timeout", "0.3")
    assert result.exit_code == 3
    assert (
        result.stderr
        == f"gitops-gen: the OAP at {oap.url}/graphql did not answer within 0.3s (the provider gives up after 30s and records an Error)\n"
    )


def test_an_unreachable_oap_exits_3(example_config: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = try_(example_config, f"http://127.0.0.1:{port}")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"gitops-gen: cannot reach the OAP at http://127.0.0.1:{port}/graphql: ")
    assert "port-forward" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--oap", "file:///etc/passwd"), "--oap: 'file:///etc/passwd' is no http(s) URL of an OAP"),
        (
            ("--oap", "http://localhost:port"),
            "--oap: 'http://localhost:port' is no http(s) URL of an OAP: its port is no number",
        ),
        (("--oap", "http://user:token@oap:12800"), "--oap: http://***@oap:12800 holds credentials"),
        (("--at", "tomorrow"), "--at: invalid time 'tomorrow' (the window's end as YYYY-MM-DD HHMM)"),
    ],
)
def test_bad_flags_exit_2(example_config: Path, oap: Oap, args: tuple[str, ...], message: str) -> None:
    result = try_(example_config, oap.url, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert oap.requests == []
