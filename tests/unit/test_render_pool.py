"""Services rendered in a pool of processes render to what one process renders: the same manifests, the
same cache entries, the same errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from generator import pool, render
from generator.cache import RenderCache
from generator.errors import InputError
from generator.render import render_environments

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is not installed: the fleet generator the bench times too
from bench.fleet import write_fleet  # noqa: E402

SERVICES = 120  # above render._SERVICES_WORTH_A_POOL: each environment's misses go to the pool


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = tmp_path_factory.mktemp("pool-fleet")
    write_fleet(config, SERVICES)
    return config


def snapshot(
    rendered: render.Rendered,
) -> list[tuple[str, str, str, str | None, str, tuple[tuple[str, str], ...]]]:
    return [(m.path, m.text, repr(m.obj), m.service, m.source, m.acknowledged) for m in rendered.manifests]


def in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "_SERVICES_WORTH_A_POOL", 10**9)


def needs_a_pool() -> None:
    if pool.cores() < 2 or not pool.can_fork():
        pytest.skip("one core, or no safe fork here: every render runs in one process")


def test_a_pool_renders_what_one_process_renders(
    fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_a_pool()
    pooled_cache = RenderCache(tmp_path / "pooled")
    pooled = render_environments(fleet, cache=pooled_cache)
    with monkeypatch.context() as patch:
        in_one_process(patch)
        alone = render_environments(fleet, cache=RenderCache(tmp_path / "alone"))
        uncached = render_environments(fleet)
    assert snapshot(pooled) == snapshot(alone) == snapshot(uncached)
    assert pooled.cache_keys == alone.cache_keys
    entries = {
        p.relative_to(tmp_path / "pooled"): p.read_bytes() for p in (tmp_path / "pooled").rglob("*.json")
    }
    same = {p.relative_to(tmp_path / "alone"): p.read_bytes() for p in (tmp_path / "alone").rglob("*.json")}
    assert entries == same  # what the workers stored is what this process stores
    # and a warm render reads back what the workers stored
    assert snapshot(render_environments(fleet, cache=RenderCache(tmp_path / "pooled"))) == snapshot(alone)


def test_a_pool_reports_the_errors_one_process_reports(
    fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_a_pool()
    broken = tmp_path / "config"
    for folder in ("services", "environments"):
        (broken / folder).mkdir(parents=True)
        for file in (fleet / folder).iterdir():
            (broken / folder / file.name).write_bytes(file.read_bytes())
    for name in ("svc-0007", "svc-0090"):  # a mistake resolution finds, in each environment's worker
        spec = broken / "services" / f"{name}.yaml"
        spec.write_text(spec.read_text() + "acknowledge:\n  GG999: because\n")
    messages = []
    for pooled in (True, False):
        with monkeypatch.context() as patch:
            if not pooled:
                in_one_process(patch)
            with pytest.raises(InputError) as caught:
                render_environments(broken)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "acknowledge.GG999: no rule GG999 [for svc-0007 in environments dev, prod, staging]" in messages[0]
    assert "[for svc-0090 in environments dev, prod, staging]" in messages[0]


def test_gitops_gen_jobs_caps_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_GEN_JOBS", "1")
    assert pool.cores() == 1
    monkeypatch.setenv("GITOPS_GEN_JOBS", "3")
    assert pool.cores() == 3
    for ignored in ("0", "-2", "many", ""):
        monkeypatch.setenv("GITOPS_GEN_JOBS", ignored)
        assert pool.cores() >= 1


def test_equal_tasks_get_a_process_each_up_to_twice_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITOPS_GEN_JOBS", raising=False)
    cores = pool.cores()
    assert pool.processes_for_equal_tasks(1) == 1
    assert pool.processes_for_equal_tasks(2 * cores) == 2 * cores
    assert pool.processes_for_equal_tasks(2 * cores + 1) == cores
    monkeypatch.setenv("GITOPS_GEN_JOBS", "2")  # a cap is a cap
    assert pool.processes_for_equal_tasks(3) == 2
