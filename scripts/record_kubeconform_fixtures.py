#!/usr/bin/env python3
"""Re-record tests/fixtures/kubeconform/*.json from the real kubeconform binary.

    python scripts/record_kubeconform_fixtures.py [--kubeconform PATH] [--check]

Each report is kubeconform's stdout for exactly the argv gitops-gen runs (`KubeconformValidator.command`:
absolute file paths, `-skip` for the built-in Kubernetes kinds; `verbose.json` adds `-verbose`), with two
normalisations so that a recording does not depend on the machine or on thread scheduling:

* the checkout's absolute path is written as `<root>` (in `filename` and in `msg`); the tests put their own
  checkout back before parsing;
* `resources` are sorted into the order of the objects in the input files. kubeconform v0.7.0 validates with
  `-n` (default 4) worker goroutines and prints results as they finish (cmd/kubeconform/main.go, tag v0.7.0,
  `for i := 0; i < cfg.NumberOfWorkers; i++ { go func(...) }`), so its own order varies between runs.

The order of the causes of one object (`validationErrors`, the tree in `msg`, the names in `additional
properties 'zzz', 'yyy'`) also varies from run to run (Go map iteration inside santhosh-tekuri/jsonschema
v6), and that is left as recorded: a fixture is rewritten only when what gitops-gen reads from it changes
(the parsed findings, statuses and summary), so re-recording does not churn.

kubeconform is looked up as `--kubeconform`, then on PATH, then at `<root>/../shared/tools/bin/kubeconform`
(where CI has it). Anything but v0.7.0 is refused: the fixtures document what v0.7.0 prints. `--check`
records into memory and exits 1 if a fixture would change (nothing is written).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.validate import (  # noqa: E402
    KubeconformValidator,
    LoadedObject,
    default_schema_dir,
    load_manifests,
    parse_kubeconform_output,
)

FIXTURES = ROOT / "tests" / "fixtures" / "kubeconform"
VERSION = "v0.7.0"
PLACEHOLDER = "<root>"

# fixture -> (inputs relative to the checkout, extra flags)
CASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "invalid.json": (("tests/fixtures/kubeconform/manifests.yaml",), ()),
    "verbose.json": (("tests/fixtures/kubeconform/manifests.yaml",), ("-verbose",)),
    "messages.json": (("tests/fixtures/kubeconform/messages.yaml",), ()),
    "valid.json": (("tests/fixtures/demo/argo",), ()),
}


def find_kubeconform(given: str | None) -> str:
    candidates = (
        [given] if given else [shutil.which("kubeconform"), ROOT.parent / "shared/tools/bin/kubeconform"]
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise SystemExit("kubeconform not found (give --kubeconform PATH)")


def objects_of(inputs: Sequence[str]) -> list[LoadedObject]:
    return load_manifests([ROOT / i for i in inputs])


def meaning(text: str, objects: Sequence[LoadedObject]) -> tuple[object, ...]:
    """What gitops-gen reads from a recorded report: findings, (file, object, status) and the summary."""
    report = json.loads(text.replace(PLACEHOLDER, str(ROOT)))
    findings = parse_kubeconform_output(json.dumps(report), objects, schema_dir=default_schema_dir())
    statuses = sorted((r["filename"], r["kind"], r["name"], r["status"]) for r in report["resources"])
    return ([str(f) for f in findings], statuses, report.get("summary"))


def record(executable: str, inputs: Sequence[str], flags: Sequence[str]) -> tuple[str, list[str]]:
    validator = KubeconformValidator(executable)
    objects = objects_of(inputs)
    files = list(dict.fromkeys(str(Path(o.path).resolve()) for o in objects))
    argv = validator.command(files, validator.skip_list(objects))
    argv[1:1] = list(flags)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode not in (0, 1) or done.stderr.strip():
        raise SystemExit(f"{argv}: exit code {done.returncode}\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout)
    order = {
        (str(Path(o.path).resolve()), o.obj.get("kind"), o.obj.get("apiVersion"), o.label.split("/", 1)[1]): n
        for n, o in enumerate(objects)
    }

    def position(resource: dict[str, Any]) -> int:
        key = (resource["filename"], resource["kind"], resource["version"], resource["name"])
        return order[key]

    report["resources"].sort(key=position)
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    shown = [PLACEHOLDER + a[len(str(ROOT)) :] if a.startswith(str(ROOT)) else a for a in argv[1:]]
    return text.replace(str(ROOT), PLACEHOLDER), ["kubeconform", *shown]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconform", help="the binary (default: PATH, then ../shared/tools/bin)")
    parser.add_argument("--check", action="store_true", help="only report fixtures that would change")
    args = parser.parse_args(argv)
    executable = find_kubeconform(args.kubeconform)
    version = subprocess.run([executable, "-v"], capture_output=True, text=True, check=False).stdout.strip()
    if version != VERSION:
        raise SystemExit(f"{executable} is kubeconform {version or '?'}, the fixtures are from {VERSION}")
    changed = []
    for name, (inputs, flags) in CASES.items():
        text, command = record(executable, inputs, flags)
        target = FIXTURES / name
        if target.exists():
            old = target.read_text(encoding="utf-8")
            objects = objects_of(inputs)
            if old == text or meaning(old, objects) == meaning(text, objects):
                continue
        changed.append(name)
        if not args.check:
            target.write_text(text, encoding="utf-8")
        print(f"{'would change' if args.check else 'wrote'} {name}: {' '.join(command)}")
    print(f"kubeconform {version} ({executable}): {len(CASES) - len(changed)} of {len(CASES)} unchanged")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
