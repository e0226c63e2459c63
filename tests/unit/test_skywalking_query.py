"""The SkyWalking GraphQL query check: schema, operation, `$duration`, placeholders, result paths."""

from __future__ import annotations

import pytest

from generator import skywalking_query
from generator.resources import data_dir
from generator.skywalking import PROTOCOL_RELEASES
from generator.skywalking_query import LIST_ITEM, QueryProblem, check_query, placeholders, result_paths

# tetrateio/tsb-gitops-demo argo/rollout/analysis.yaml (c56fd5d), spec.metrics[0].provider.skywalking.query
DEMO = """\
query queryData($duration: Duration!) {
  service_apdex: readMetricsValues(
    condition: { name: "service_apdex", entity: { scope: Service, serviceName: "{{ args.service-name }}", normal: true } },
    duration: $duration) {
      label values { values { value } }
    }
}
"""

# The MQE replacement of readMetricsValues (metrics-v3.graphqls): values come back as strings.
MQE = """\
query queryData($duration: Duration!) {
  apdex: execExpression(
    expression: "service_apdex",
    entity: { serviceName: "{{ args.service-name }}", normal: true },
    duration: $duration) {
      type
      error
      results { metric { labels { key value } } values { id value } }
  }
}
"""


def messages(query: str) -> list[str]:
    return [problem.message for problem in check_query(query)]


# --- valid queries ------------------------------------------------------------------------------------------


def test_demo_query_is_valid() -> None:
    assert check_query(DEMO) == []


def test_mqe_query_is_valid() -> None:
    assert check_query(MQE) == []


def test_fragments_and_an_extra_optional_variable_are_valid() -> None:
    query = """\
query q($duration: Duration!, $debug: Boolean) {
  apdex: execExpression(expression: "service_apdex", entity: {serviceName: "x"},
                        duration: $duration, debug: $debug) { ...result }
}
fragment result on ExpressionResult { type results { values { value } } }
"""
    assert check_query(query) == []


def test_nullable_duration_with_a_default_is_valid() -> None:
    # GraphQL lets a nullable variable with a non-null default fill a `Duration!` argument.
    query = DEMO.replace(
        "$duration: Duration!",
        '$duration: Duration = {start: "2024-01-01 0000", end: "2024-01-01 0003", step: MINUTE}',
    )
    assert check_query(query) == []


# --- problems ---------------------------------------------------------------------------------------------


def test_syntax_error_has_its_position() -> None:
    query = "query q($duration: Duration!) {\n  version"
    assert check_query(query) == [QueryProblem("Syntax Error: Expected Name, found <EOF>.", 2, 10)]


def test_unknown_field_suggests_the_right_one() -> None:
    problems = check_query(DEMO.replace("readMetricsValues", "readMetricValuez"))
    assert len(problems) == 1
    assert problems[0].message.startswith("Cannot query field 'readMetricValuez' on type 'Query'.")
    assert "'readMetricsValues'" in problems[0].message
    assert (problems[0].line, problems[0].column) == (2, 3)


def test_unknown_argument_and_missing_required_argument() -> None:
    found = messages(DEMO.replace("condition:", "conditions:"))
    assert any("Unknown argument 'conditions'" in m for m in found)
    assert any(
        "of type 'MetricsCondition!' is required" in m for m in found
    )  # worded differently by 3.2 and 3.3


def test_wrong_argument_types_inside_an_input_object() -> None:
    problems = check_query(
        DEMO.replace("scope: Service", "scope: Servic").replace("normal: true", 'normal: "true"')
    )
    assert [p.message for p in problems] == [
        "Value 'Servic' does not exist in 'Scope' enum. Did you mean the enum value 'Service'?",
        'Boolean cannot represent a non boolean value: "true"',
    ]
    assert problems[0].line == problems[1].line == 3
    assert problems[0].column < problems[1].column


def test_missing_duration_declaration() -> None:
    query = """\
query q {
  v: readMetricsValue(condition: {name: "service_sla", entity: {serviceName: "x"}},
                      duration: {start: "2024-01-01 0000", end: "2024-01-01 0003", step: MINUTE})
}
"""
    assert check_query(query) == [
        QueryProblem(
            "the query must declare `$duration: Duration!` and pass it on: it is the only variable the provider sends",
            1,
            1,
        )
    ]


def test_duration_used_but_not_declared() -> None:
    found = messages(DEMO.replace("($duration: Duration!)", ""))
    assert any(m.startswith("the query must declare `$duration: Duration!`") for m in found)
    assert "Variable '$duration' is not defined by operation 'queryData'." in found


def test_declared_duration_must_be_used() -> None:
    query = "query q($duration: Duration!) { checkHealth { score } }"
    assert messages(query) == ["Variable '$duration' is never used in operation 'q'."]


def test_nullable_duration_is_accepted_by_our_rule_but_not_where_duration_is_required() -> None:
    # The provider always sends $duration, so `Duration` is a fine declaration; but every SkyWalking field
    # takes `duration: Duration!`, and GraphQL (like SkyWalking's graphql-java) rejects the nullable one there.
    problems = check_query(DEMO.replace("$duration: Duration!", "$duration: Duration"))
    assert [p.message for p in problems] == [
        "Variable '$duration' of type 'Duration' used in position expecting type 'Duration!'."
    ]


def test_duration_of_another_type() -> None:
    found = messages(DEMO.replace("$duration: Duration!", "$duration: String!"))
    assert "`$duration` must have type `Duration!`" in found
    assert "Variable '$duration' of type 'String!' used in position expecting type 'Duration!'." in found


def test_extra_required_variable_is_never_sent() -> None:
    query = DEMO.replace("($duration: Duration!)", "($duration: Duration!, $service: String!)").replace(
        '"{{ args.service-name }}"', "$service"
    )
    problems = check_query(query)
    assert len(problems) == 1
    assert problems[0].message.startswith("`$service` is required but never sent")
    assert (problems[0].line, problems[0].column) == (1, 39)


def test_extra_variable_with_a_default_is_fine() -> None:
    query = DEMO.replace(
        "($duration: Duration!)", '($duration: Duration!, $service: String! = "reviews")'
    ).replace('"{{ args.service-name }}"', "$service")
    assert check_query(query) == []


def test_mutation_is_not_a_query() -> None:
    query = "mutation m($duration: Duration!) { version }"
    found = messages(query)
    assert "the operation must be a query, not a mutation" in found


def test_two_operations() -> None:
    query = DEMO + "query other($duration: Duration!) { version }\n"
    problems = check_query(query)
    assert (
        QueryProblem("only one operation is allowed: the provider sends no operationName", 8, 1) in problems
    )


def test_no_operation() -> None:
    assert messages("fragment f on Query { version }") == [
        "no operation: write `query name($duration: Duration!) { ... }`",
        "Fragment 'f' is never used.",
    ]


def test_problems_are_sorted_by_position() -> None:
    query = "mutation m { version } query q { version }"
    problems = check_query(query)
    positions = [(p.line, p.column) for p in problems]
    assert positions == sorted(positions)


# --- placeholders -----------------------------------------------------------------------------------------


def test_placeholder_outside_a_string_is_reported_once() -> None:
    query = DEMO.replace('"{{ args.service-name }}"', "{{ args.service-name }}")
    assert check_query(query) == [
        QueryProblem(
            "placeholder {{ args.service-name }} is outside a string literal "
            '(put it inside quotes, e.g. serviceName: "{{ args.service-name }}")',
            3,
            80,
        )
    ]


def test_placeholders_in_block_strings_and_comments_are_fine() -> None:
    query = DEMO.replace('"{{ args.service-name }}"', '"""{{ args.service-name }}"""')
    assert check_query("# for {{ args.service-name }}\n" + query) == []


def test_a_tag_that_is_not_an_argument_cannot_be_resolved() -> None:
    query = DEMO.replace("{{ args.service-name }}", "{{ service-name }}")
    assert check_query(query) == [
        QueryProblem(
            "Argo Rollouts cannot resolve {{ service-name }}: only {{ args.NAME }} is substituted", 3, 81
        )
    ]


def test_unclosed_tag() -> None:
    query = DEMO.replace("{{ args.service-name }}", "{{ args.service-name }")
    assert check_query(query) == [
        QueryProblem("unclosed '{{': Argo Rollouts fails to resolve the template", 3, 81)
    ]


def test_placeholders_lists_argument_names_in_order_once() -> None:
    query = (
        '{ a: f(x: "{{args.one}}", y: "{{  args.service-name  }}", z: "{{ args.one }}", w: "{{ other }}") }'
    )
    assert placeholders(query) == ["one", "service-name"]
    assert placeholders(DEMO) == ["service-name"]
    assert placeholders("query { version }") == []


# --- result paths -----------------------------------------------------------------------------------------


def test_result_paths_of_the_demo_query() -> None:
    assert result_paths(DEMO) == {
        ("service_apdex",),
        ("service_apdex", "label"),
        ("service_apdex", "values"),
        ("service_apdex", "values", "values"),
        ("service_apdex", "values", "values", LIST_ITEM),
        ("service_apdex", "values", "values", LIST_ITEM, "value"),
    }


def test_result_paths_mark_every_list_level() -> None:
    paths = result_paths(MQE)
    assert ("apdex", "results", LIST_ITEM, "values", LIST_ITEM, "value") in paths
    assert ("apdex", "results", LIST_ITEM, "metric", "labels", LIST_ITEM, "key") in paths
    assert ("apdex", "type") in paths
    assert ("apdex", "results", "values") not in paths


def test_result_paths_without_alias_use_the_field_name() -> None:
    assert result_paths("query q { checkHealth { score } }") == {("checkHealth",), ("checkHealth", "score")}


def test_result_paths_follow_fragments() -> None:
    query = """\
query q($duration: Duration!) {
  a: execExpression(expression: "x", entity: {}, duration: $duration) { ...r ... on ExpressionResult { error } }
}
fragment r on ExpressionResult { results { values { value } } }
"""
    paths = result_paths(query)
    assert ("a", "results", LIST_ITEM, "values", LIST_ITEM, "value") in paths
    assert ("a", "error") in paths


def test_result_paths_survive_cyclic_fragments_and_unknown_fields() -> None:
    query = "query q { x: nope { y } ...f } fragment f on Query { ...f version }"
    assert result_paths(query) == {("x",), ("x", "y"), ("version",)}


def test_result_paths_of_a_query_that_does_not_parse() -> None:
    assert result_paths("query {") == set()


# --- the vendored schema ----------------------------------------------------------------------------------


def test_schema_files_are_vendored_with_their_source() -> None:
    folder = data_dir("schemas") / "skywalking-query-protocol"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(PROTOCOL_RELEASES)
    assert len(list((folder / "10.4.0").glob("*.graphqls"))) == 24
    assert len(list((folder / "9.0.0").glob("*.graphqls"))) == 16
    assert not list(folder.glob("*.graphqls"))
    source = (folder / "SOURCE.md").read_text(encoding="utf-8")
    assert "apache/skywalking-query-protocol" in source
    assert "| `10.4.0/` | v10.4.0 | 4fc10625ba72ef4788972b4f7991a535065d609b |" in source
    assert "| `9.4.0/` | v9.4.0 | 450328c6445d4dc50a868a0b797a14755f1d82cc |" in source
    assert all(f"| `{release}/` | v{release} |" in source for release in PROTOCOL_RELEASES)
    assert "Apache-2.0" in source
    for path in folder.glob("*/*.graphqls"):
        assert "Licensed to the Apache Software Foundation" in path.read_text(encoding="utf-8"), path


def test_schema_has_the_fields_the_provider_queries_use() -> None:
    query_type = skywalking_query._schema("10.4.0").query_type
    assert query_type is not None
    assert {"readMetricsValues", "execExpression", "checkHealth"} <= set(query_type.fields)


def test_schema_is_built_once_per_release() -> None:
    check_query(DEMO)
    before = skywalking_query._schema.cache_info()
    check_query(MQE)
    check_query(MQE, "10.4.1")  # a patch release reads its minor's protocol
    after = skywalking_query._schema.cache_info()
    assert after.misses == before.misses
    assert after.hits > before.hits
    check_query(DEMO, "9.7.0")
    check_query(DEMO, "9.6.0")
    assert skywalking_query._schema.cache_info().currsize <= after.currsize + 1


@pytest.mark.parametrize("query", ["", "   ", "# only a comment"])
def test_empty_query(query: str) -> None:
    problems = check_query(query)
    assert len(problems) == 1
    assert problems[0].message == "Syntax Error: Unexpected <EOF>."
