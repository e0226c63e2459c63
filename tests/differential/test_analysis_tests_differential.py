"""`gitops-gen test`'s measurement against the real controller code: the body the simulated OAP answers a
rendered query with, classified by expr_eval and by `rollouts-eval` (../shared/tools/README.md), must get
the same phase, for every query style and OAP generation, over both Argo Rollouts releases.

The minutes are generated deterministically: healthy, regressed, quiet (null), real zeros, at the bound.
Without the binaries on PATH the test skips.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from generator import expr_eval, skywalking, skywalking_oap
from generator.skywalking import MetricCheck

BINARIES = {"v1.9": "rollouts-eval-v1.9.1", "v1.10": "rollouts-eval"}
SERVICE = "canary|reviews|bookinfo|cp-cluster-1|-"
END = datetime(2030, 1, 1, 12, 0)
# (check, query style, OAP release): each generation of query and condition gitops-gen renders.
TARGETS = [
    (MetricCheck("apdex", "service_apdex", minimum=0.99), "readMetricsValues", "9.4.0"),
    (MetricCheck("apdex", "service_apdex", minimum=0.99), "readMetricsValues", "10.4.0"),
    (MetricCheck("apdex", "service_apdex", minimum=0.99), "mqe", "9.5.0"),
    (MetricCheck("apdex", "service_apdex", minimum=0.99), "mqe", "10.4.0"),
    (MetricCheck("p99", "service_percentile", maximum=300, percentile=99), "mqe", "9.6.0"),
    (MetricCheck("p99", "service_percentile", maximum=300, percentile=99), "mqe", "10.4.0"),
    (MetricCheck("latency", "service_resp_time", minimum=1, maximum=250.5), "readMetricsValues", "10.4.0"),
]
PER_TARGET = 40


def _minutes(rng: random.Random, check: MetricCheck) -> list[skywalking_oap.Minute]:
    low, high = (9900, 10000) if check.minimum == 0.99 else (1, 300)
    choices = [
        lambda: rng.randint(low, high),  # healthy
        lambda: rng.randint(0, low - 1) if low > 1 else rng.randint(301, 900),  # regressed
        lambda: None,  # a quiet minute
        lambda: 0,  # a real zero
        lambda: low if check.minimum == 0.99 else high,  # at the bound
    ]
    return [rng.choice(choices)() for _ in range(4)]


def cases() -> list[tuple[str, str, str, str, list[skywalking_oap.Minute]]]:
    rng = random.Random(20261201)
    found = []
    for check, style, oap in TARGETS:
        query = skywalking.query(check, style, oap).replace("{{ args.service-name }}", SERVICE)
        condition = skywalking.success_condition(check, style, 2, oap)
        for _ in range(PER_TARGET):
            minutes = _minutes(rng, check)
            body = skywalking_oap.respond(
                query, {"duration": skywalking_oap.duration(END, 180)}, lambda _, m=minutes: m, oap
            )
            found.append((f"{check.metric} {style} {oap}", condition, json.dumps(body), oap, minutes))
    return found


def _real(binary: str, condition: str, body: Path) -> str:
    done = subprocess.run(
        [binary, "--success", condition, str(body)], capture_output=True, text=True, timeout=30, check=False
    )
    phase = done.stdout.strip().split(":", 1)[0]
    assert phase in expr_eval.PHASES, (condition, done.stdout, done.stderr)
    return phase


@pytest.mark.parametrize("version", list(BINARIES))
def test_simulated_measurements_get_the_controllers_phase(version: str, tmp_path: Path) -> None:
    binary = shutil.which(BINARIES[version])
    if binary is None:
        pytest.skip(
            f"{BINARIES[version]} is not on PATH (CI gets it from ../shared/tools/bin via the Makefile)"
        )
    corpus = cases()
    files = []
    for index, (_, _, body, _, _) in enumerate(corpus):
        files.append(tmp_path / f"{index}.json")
        files[-1].write_text(body, encoding="utf-8")
    with ThreadPoolExecutor(max_workers=8) as pool:
        real = list(
            pool.map(lambda item: _real(binary, item[0][1], item[1]), zip(corpus, files, strict=True))
        )
    disagreements = []
    for (target, condition, body, _, minutes), phase in zip(corpus, real, strict=True):
        ours = expr_eval.classify(body, condition, None, version).phase
        if ours != phase:
            disagreements.append(f"{target} {minutes}: controller {phase}, gitops-gen {ours}")
    assert {"Successful", "Failed"} <= set(real)
    assert disagreements == [], "\n".join(disagreements)
