"""The README's rules table and the rule catalogue (`generator/rules/catalogue.py`) agree: every rule ID
is in the table with its severity, and every ID in the table is a rule."""

from __future__ import annotations

import re
from pathlib import Path

from generator.rules import RULES
from generator.rules.catalogue import ERROR, WARNING

ROOT = Path(__file__).resolve().parents[2]
_ID = re.compile(r"^(GG\d{3}|IST\d{4})$")


def readme_rules() -> dict[str, str]:
    """ID -> severity from the `| ID | severity | rule |` table of the README's "Validation" section; a
    row may name several IDs (`GG101 / GG103`)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Validation\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = lines.index("| ID | severity | rule |")
    rows: dict[str, str] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        ids, severity = cells[0], cells[1]
        for rule_id in ids.split("/"):
            rule_id = rule_id.strip()
            assert _ID.match(rule_id), f"README rules table: {rule_id!r} is not a rule ID ({line})"
            assert rule_id not in rows, f"README rules table lists {rule_id} twice"
            rows[rule_id] = severity
    return rows


def test_the_readme_table_is_parsed() -> None:
    rows = readme_rules()
    assert len(rows) >= 30
    assert rows["GG101"] == ERROR and rows["GG502"] == WARNING


def test_every_rule_is_in_the_readme_with_its_severity() -> None:
    rows = readme_rules()
    missing = sorted(set(RULES) - set(rows))
    assert not missing, f"rules missing from the README's table: {missing}"
    wrong = {i: (rows[i], r.severity) for i, r in RULES.items() if rows[i] != r.severity}
    assert not wrong, f"README severity != catalogue severity: {wrong}"


def test_every_readme_rule_exists() -> None:
    unknown = sorted(set(readme_rules()) - set(RULES))
    assert not unknown, f"the README's table names rules the catalogue does not have: {unknown}"


def test_catalogue_entries_are_well_formed() -> None:
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id and _ID.match(rule_id)
        assert rule.severity in (ERROR, WARNING)
        assert rule.title
        assert not rule.link or rule.link.startswith("https://")
