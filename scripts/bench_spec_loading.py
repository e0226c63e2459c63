"""Spec loading, C path against ruamel: 1,000 fleet specs + 3 environment files, median of 5 runs.

.venv/bin/python scripts/bench_spec_loading.py
"""

from __future__ import annotations

import importlib.util
import random
import statistics
import time
from pathlib import Path

from generator.yamlio import load_source_text, load_text, to_plain

ROOT = Path(__file__).resolve().parents[1]


def corpus() -> list[str]:
    spec = importlib.util.spec_from_file_location("fleet", ROOT / "tests/unit/test_fleet.py")
    assert spec is not None and spec.loader is not None
    fleet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fleet)
    rng = random.Random(7)
    texts = [fleet.service(f"svc-{i:04d}", rng) for i in range(1000)]
    overrides = {"prod": fleet.PROD_OVERRIDES}
    return texts + [fleet.environment(n) + overrides.get(n, "") for n in fleet.ENVIRONMENTS]


def main() -> None:
    texts = corpus()
    ways = {
        "ruamel round-trip + to_plain": lambda t: to_plain(load_text(t, "f.yaml")),
        "C composer (load_source_text)": lambda t: load_source_text(t, "f.yaml"),
    }
    results = {}
    for name, load in ways.items():
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for text in texts:
                load(text)
            runs.append(time.perf_counter() - start)
        results[name] = runs
        print(f"{name}: median {statistics.median(runs):.3f} s (min {min(runs):.3f}, max {max(runs):.3f})")
    slow, fast = (statistics.median(r) for r in results.values())
    print(f"{len(texts)} files: {slow / fast:.1f}x faster")


if __name__ == "__main__":
    main()
