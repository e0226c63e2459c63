"""Findings for people and for CI: text (`file:line:col: ID severity: ...`), JSON and JUnit XML."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from xml.etree import ElementTree

from .errors import Finding

FORMATS = ("text", "json", "junit")


def counts(findings: Sequence[Finding]) -> tuple[int, int]:
    errors = sum(1 for f in findings if f.severity == "error")
    return errors, len(findings) - errors


def summary(findings: Sequence[Finding], checked: int) -> str:
    errors, warnings = counts(findings)
    acknowledged = sum(1 for f in findings if f.acknowledged)
    text = f"{checked} objects checked: {errors} error(s), {warnings} warning(s)"
    return text + (f" ({acknowledged} acknowledged)" if acknowledged else "")


def format_findings(findings: Sequence[Finding], output: str, checked: int) -> str:
    if output == "json":
        return to_json(findings, checked)
    if output == "junit":
        return to_junit(findings, checked)
    return "".join(f"{finding}\n" for finding in findings)


def to_json(findings: Sequence[Finding], checked: int) -> str:
    errors, warnings = counts(findings)
    document = {
        "summary": {"objects": checked, "errors": errors, "warnings": warnings},
        "findings": [
            {
                "rule": f.rule,
                "severity": f.severity,
                "file": f.location.path,
                "line": f.location.line,
                "column": f.location.column,
                "field": f.location.field,
                "object": f.obj,
                "message": f.message,
                "link": f.link,
                "acknowledged": f.acknowledged,
            }
            for f in findings
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def to_junit(findings: Sequence[Finding], checked: int) -> str:
    """One test case per file with findings (a failure per error, warnings in system-out), as CI servers
    expect; a file without findings has nothing to report, so the suite counts only the checked objects."""
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_file[finding.location.path].append(finding)
    errors, _ = counts(findings)
    suite = ElementTree.Element(
        "testsuite",
        {"name": "gitops-gen", "tests": str(max(len(by_file), 1)), "failures": str(errors), "errors": "0"},
    )
    if not by_file:
        ElementTree.SubElement(suite, "testcase", {"classname": "gitops-gen", "name": f"{checked} objects"})
    for path in sorted(by_file):
        case = ElementTree.SubElement(suite, "testcase", {"classname": "gitops-gen", "name": path})
        warnings = []
        for finding in by_file[path]:
            if finding.severity == "error":
                failure = ElementTree.SubElement(
                    case, "failure", {"type": finding.rule, "message": finding.message}
                )
                failure.text = str(finding)
            else:
                warnings.append(str(finding))
        if warnings:
            ElementTree.SubElement(case, "system-out").text = "\n".join(warnings)
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(suite, encoding="unicode") + "\n"
