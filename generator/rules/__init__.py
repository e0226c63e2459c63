"""Cross-object rules: what hand-written canaries break and no single-object schema can see.

Each rule has a stable ID, a severity and (for the hazards) a link, all in `catalogue.py`; every finding
names the file, the object and the field. The rules look at one *set* of objects at a time: what is
applied to one cluster (one rendered environment, or the files given to `validate`). One module per rule
group, as istioctl keeps one analyzer per folder:

  wiring    GG1xx  Rollout <-> VirtualService <-> DestinationRule wiring
  tsb       GG2xx  TSB direct mode: `istio.io/rev`, the tenancy annotations, the Tenant/Workspace/Group
  analysis  GG3xx  analysis: templates and args, the SkyWalking query, the success condition, metric limits
            (metric_spec: Argo Rollouts' ValidateMetric; vacuity: GG309)
  timing    GG310, GG311  when background analysis can fail, which minutes it measures
  steps     GG4xx  canary steps
  hazards   GG5xx  GitOps hazards reported in Argo Rollouts' issue tracker (warnings)
  argocd    GG6xx  Argo CD Applications
  istio     IST0101, IST0109, IST0130  `istioctl analyze` checks, reimplemented for files
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .catalogue import ERROR, RULES, WARNING, Rule

if TYPE_CHECKING:
    from ..errors import Finding
    from ..model import Versions
    from .objects import Item, ObjectSet

__all__ = ["ERROR", "RULES", "WARNING", "Item", "ObjectSet", "Rule", "Versions", "check"]

# The rule groups (and what they import: the validator, graphql-core) load when rules run, not when the
# catalogue is read: every render checks its specs' `acknowledge` against RULES.
_GROUPS = ("wiring", "tsb", "analysis", "timing", "steps", "hazards", "argocd", "istio")


def __getattr__(name: str) -> Any:
    if name in ("Item", "ObjectSet"):
        return getattr(importlib.import_module(".objects", __name__), name)
    if name == "Versions":
        return importlib.import_module("..model", __name__).Versions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check(
    items: Sequence[Item],
    path_exists: Callable[[str], bool] | None = None,
    versions: Versions | None = None,
) -> list[Finding]:
    """Every rule over one set of objects; findings sorted by file and position."""
    from .objects import ObjectSet

    objects = ObjectSet(items, path_exists, versions)
    findings: list[Finding] = []
    for group in _GROUPS:
        findings.extend(importlib.import_module(f".{group}", __name__).check(objects))
    return sorted(findings, key=lambda f: (f.location, f.rule, f.message))
