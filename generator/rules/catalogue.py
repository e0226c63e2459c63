"""The rule catalogue: every rule's ID, severity, title and link, in one place (the README's
rules table is checked against it by tests/unit/test_rules_catalogue.py)."""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    link: str = ""


RULES = {
    rule.id: rule
    for rule in (
        Rule("GG101", ERROR, "the Rollout's VirtualService exists"),
        Rule(
            "GG102",
            ERROR,
            "the Rollout's route exists in the VirtualService, or the VirtualService has one route",
        ),
        Rule("GG103", ERROR, "the Rollout's DestinationRule exists"),
        Rule("GG104", ERROR, "the DestinationRule defines the canary and stable subsets"),
        Rule("GG105", ERROR, "subset labels agree with canaryMetadata/stableMetadata and the selector"),
        Rule(
            "GG106",
            ERROR,
            "the route sends to both subsets of the DestinationRule's host, weights summing to 100",
        ),
        Rule("GG107", ERROR, "the Rollout's workloadRef Deployment exists and its pods match the selector"),
        Rule("GG201", ERROR, "direct-mode Istio objects carry the label istio.io/rev: tsb"),
        Rule(
            "GG202",
            ERROR,
            "direct-mode Istio objects carry the tsb.tetrate.io organization, tenant, workspace "
            "and one group annotation",
        ),
        Rule("GG203", ERROR, "the tenancy annotations name a Tenant, Workspace and Group of the same set"),
        Rule("GG204", ERROR, "the Group is in configMode DIRECT and selects the object's namespace"),
        Rule("GG301", ERROR, "every analysis templateName exists"),
        Rule("GG302", ERROR, "every template arg without a value is supplied"),
        Rule(
            "GG303",
            ERROR,
            "the service-name arg is subset|service|namespace|cluster|env with the canary subset",
        ),
        Rule("GG304", ERROR, "the SkyWalking query is valid against the SkyWalking query protocol"),
        Rule("GG305", ERROR, "the successCondition reads only what the query returns"),
        Rule("GG306", ERROR, "the successCondition is a well-formed expression over `result`"),
        Rule("GG307", ERROR, "metric limits and durations Argo Rollouts checks only in the cluster"),
        Rule("GG308", WARNING, "the condition fails on a minute without traffic"),
        Rule("GG309", WARNING, "the condition passes when there was no traffic at all"),
        Rule("GG310", WARNING, "background analysis can fail the rollout before it is fully promoted"),
        Rule("GG311", WARNING, "the query window covers every minute between two measurements"),
        Rule("GG401", ERROR, "canary weights strictly increase within 0..100"),
        Rule("GG402", ERROR, "analysis startingStep is inside the steps"),
        Rule("GG403", ERROR, "pause durations are valid"),
        Rule(
            "GG501",
            WARNING,
            "replicas set while an HPA scales the Rollout",
            "https://github.com/argoproj/argo-rollouts/issues/3565",
        ),
        Rule(
            "GG502",
            WARNING,
            "workloadRef.scaleDown leaves double capacity",
            "https://github.com/argoproj/argo-rollouts/issues/4935",
        ),
        Rule(
            "GG503",
            WARNING,
            "workloadRef.scaleDown can leave the Deployment at zero",
            "https://github.com/argoproj/argo-rollouts/issues/3855",
        ),
        Rule("GG601", ERROR, "an Application's source path exists in the tree"),
        Rule("GG602", ERROR, "the Application syncing a canary ignores what Argo Rollouts mutates"),
        Rule(
            "GG603",
            WARNING,
            "RespectIgnoreDifferences keeps Git edits to a canary's routes or subsets from the cluster",
            "https://github.com/argoproj/argo-cd/issues/17694",
        ),
        Rule("IST0101", ERROR, "a referenced subset or gateway is not defined"),
        Rule("IST0109", ERROR, "two VirtualServices claim the same host"),
        Rule("IST0130", ERROR, "a route rule can never match"),
    )
}
