#!/usr/bin/env python3
"""Time the builtin schema validator per manifest.

    python scripts/bench_validate.py [--target 1000] [--runs 5]

The demo's 17 objects (tests/fixtures/demo/argo: TSB tenancy, Istio, Rollout, AnalysisTemplate) are repeated
to about `--target` objects and validated `--runs` times with one warm BuiltinValidator (schemas compiled
once, as in a real run); the median run is reported per manifest. As a baseline measured in the same
process on the same objects: `json.dumps` of each object. The first (cold) run, which reads and compiles
the schemas, is shown separately.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.validate import BuiltinValidator, LoadedObject, load_manifests  # noqa: E402


def _time(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, default=1000, help="about this many objects per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    demo = load_manifests([ROOT / "tests" / "fixtures" / "demo" / "argo"])
    copies = max(1, round(args.target / len(demo)))
    objects: list[LoadedObject] = demo * copies
    count = len(objects)

    validator = BuiltinValidator()
    cold = _time(lambda: validator.validate_objects(demo))
    findings = validator.validate_objects(objects)
    if findings:
        print("\n".join(str(f) for f in findings), file=sys.stderr)
        return 1

    runs = [_time(lambda: validator.validate_objects(objects)) for _ in range(args.runs)]
    baseline = [_time(lambda: [json.dumps(o.obj) for o in objects]) for _ in range(args.runs)]
    per_manifest = statistics.median(runs) / count
    per_dump = statistics.median(baseline) / count

    print(f"objects per run: {count} ({len(demo)} demo objects x {copies}), runs: {args.runs}")
    print(f"builtin validator: {per_manifest * 1e6:.1f} us per manifest (median of {args.runs} runs)")
    print(f"json.dumps baseline: {per_dump * 1e6:.1f} us per manifest (median of {args.runs} runs)")
    print(f"ratio validator / json.dumps: {per_manifest / per_dump:.0f}x")
    print(f"first run incl. reading and compiling the schemas: {cold * 1e3:.1f} ms for {len(demo)} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
