"""Check the GraphQL query of an AnalysisTemplate's `provider.skywalking` before Argo Rollouts sends it.

The Argo Rollouts SkyWalking provider (v1.9) POSTs `{"query": <text>, "variables": {"duration": {start, end,
step}}}` to `<address>/graphql`, with no operationName and no other variable, after replacing every
`{{ args.NAME }}` tag in the text. The response's `data` object becomes `result` in the conditions. So a query
is usable when it parses, validates against the SkyWalking query protocol, is a single `query` operation,
declares `$duration` and needs no other variable, and keeps its placeholders inside string literals.

Positions in `QueryProblem` are 1-based line and column inside the query text (0 when unknown): the caller
adds the offset of the YAML scalar the query came from.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    ListTypeNode,
    NamedTypeNode,
    Node,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Source,
    TypeNode,
    build_ast_schema,
    concat_ast,
    get_named_type,
    parse,
    validate,
)
from graphql.type.definition import GraphQLInterfaceType, GraphQLOutputType

from generator.resources import data_dir
from generator.skywalking import (  # noqa: F401  # QueryProblem and placeholders: this module's API too
    ARG_TAG,
    DEFAULT_OAP_VERSION,
    PROTOCOL_RELEASES,
    TEMPLATE_TAG,
    QueryProblem,
    placeholders,
    protocol_release,
)

# A path element meaning "every item of the list above": ("svc", "values", "values", LIST_ITEM, "value").
LIST_ITEM = "[]"

# The only variable the provider sends, and the input type SkyWalking's fields take it as.
DURATION_VARIABLE = "duration"
DURATION_TYPE = "Duration"


def check_query(query: str, oap_version: str = DEFAULT_OAP_VERSION) -> list[QueryProblem]:
    """Every problem that would make the provider's request fail on that OAP, sorted by position.

    The query is validated against the protocol of `oap_version` (ValueError if unsupported); a field or
    argument that this release lacks but a later one has says since when it exists.
    """
    release = protocol_release(oap_version)
    problems, breaks_syntax = _check_tags(query)
    if breaks_syntax:
        # A tag outside a string literal (or an unclosed one) is also a GraphQL syntax error at the same
        # place: reporting both would say the same thing twice.
        return _sorted(problems)
    try:
        document = parse(Source(query, "query"))
    except GraphQLSyntaxError as error:
        return _sorted([*problems, _from_graphql_error(error)])
    problems += _check_operations(document)
    problems += [
        _explained(_from_graphql_error(error), oap_version, release)
        for error in validate(_schema(release), document)
    ]
    return _sorted(problems)


def result_paths(query: str, oap_version: str = DEFAULT_OAP_VERSION) -> set[tuple[str, ...]]:
    """Every JSON path the response `data` (the condition's `result`) can have for this query.

    Top-level keys are the aliases, or the field names where there is no alias; a list level adds a
    `LIST_ITEM` element, so `service_apdex: readMetricsValues { values { values { value } } }` gives
    ("service_apdex",), ("service_apdex", "values"), ("service_apdex", "values", "values"),
    ("service_apdex", "values", "values", "[]") and ("service_apdex", "values", "values", "[]", "value").
    A query that does not parse has no paths; fields unknown to the schema are kept, without list marks.
    The schema is the protocol of `oap_version`.
    """
    release = protocol_release(oap_version)
    try:
        document = parse(Source(query, "query"))
    except GraphQLSyntaxError:
        return set()
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    doc = _Document(_schema(release), fragments)
    paths: set[tuple[str, ...]] = set()
    for operation in _operations(document):
        root = doc.schema.get_root_type(operation.operation)
        paths.update(_selection_paths(doc, operation.selection_set, root, ()))
    return paths


# --- the schema -------------------------------------------------------------------------------------------


@functools.cache
def _schema(release: str) -> GraphQLSchema:
    """The protocol shipped for one release (a name in `PROTOCOL_RELEASES`), built once per process."""
    # common.graphqls defines `schema { query: Query mutation: Mutation }` and the root types; every other
    # file adds to them with `extend type Query`. build_ast_schema applies extensions found in the same
    # document, so the concatenated files build as they are (no assume_valid_sdl needed).
    folder = data_dir("schemas") / "skywalking-query-protocol" / release
    documents = [
        parse(Source(path.read_text(encoding="utf-8"), path.name))
        for path in sorted(folder.glob("*.graphqls"))
    ]
    return build_ast_schema(concat_ast(documents))


# A field the release lacks (graphql-core's wording, 3.2 and 3.3), and an input field it requires.
_UNKNOWN_FIELD = re.compile(r"Cannot query field '(\w+)' on type '(\w+)'\.")
_REQUIRED_INPUT_FIELD = re.compile(
    r"Expected value of type '(\w+)!?' to include required field '(\w+)'"
    r"|Field '(\w+)\.(\w+)' of required type '[^']+' was not provided\."
)


def _explained(problem: QueryProblem, oap_version: str, release: str) -> QueryProblem:
    """Say since which release a missing field exists, or since when a required one is optional."""
    later = PROTOCOL_RELEASES[PROTOCOL_RELEASES.index(release) + 1 :]
    unknown = _UNKNOWN_FIELD.match(problem.message)
    if unknown:
        field, type_name = unknown.groups()
        since = next((r for r in later if _has_field(_schema(r), type_name, field)), None)
        if since is not None:
            note = f"SkyWalking {oap_version}; {field} exists since {since}"
            return QueryProblem(f"{problem.message} ({note})", problem.line, problem.column)
    required = _REQUIRED_INPUT_FIELD.match(problem.message)
    if required:
        type_name, field = required.group(1, 2) if required.group(1) else required.group(3, 4)
        since = next((r for r in later if _is_optional_input(_schema(r), type_name, field)), None)
        if since is not None:
            note = f"SkyWalking {oap_version}; {type_name}.{field} is optional since {since}"
            return QueryProblem(f"{problem.message} ({note})", problem.line, problem.column)
    return problem


def _has_field(schema: GraphQLSchema, type_name: str, field: str) -> bool:
    named = schema.get_type(type_name)
    return isinstance(named, GraphQLObjectType | GraphQLInterfaceType) and field in named.fields


def _is_optional_input(schema: GraphQLSchema, type_name: str, field: str) -> bool:
    named = schema.get_type(type_name)
    if not isinstance(named, GraphQLInputObjectType) or field not in named.fields:
        return False
    return not isinstance(named.fields[field].type, GraphQLNonNull)


# --- template tags ----------------------------------------------------------------------------------------


def _check_tags(query: str) -> tuple[list[QueryProblem], bool]:
    """Problems with `{{ ... }}` tags, and whether one of them also breaks the GraphQL syntax."""
    problems: list[QueryProblem] = []
    breaks_syntax = False
    literals = _literal_spans(query)
    for match in TEMPLATE_TAG.finditer(query):
        tag = match.group(0)
        if not ARG_TAG.fullmatch(match.group(1)):
            message = f"Argo Rollouts cannot resolve {tag}: only {{{{ args.NAME }}}} is substituted"
            problems.append(_at(query, match.start(), message))
        elif not any(start <= match.start() and match.end() <= end for start, end in literals):
            message = (
                f"placeholder {tag} is outside a string literal "
                '(put it inside quotes, e.g. serviceName: "{{ args.service-name }}")'
            )
            problems.append(_at(query, match.start(), message))
            breaks_syntax = True
    # Tags take the first `}}` after their `{{`, so a `{{` left once they are blanked out is never closed.
    opened = TEMPLATE_TAG.sub(lambda m: " " * len(m.group(0)), query).find("{{")
    if opened >= 0:
        problems.append(_at(query, opened, "unclosed '{{': Argo Rollouts fails to resolve the template"))
        breaks_syntax = True
    return problems, breaks_syntax


def _literal_spans(query: str) -> list[tuple[int, int]]:
    """(start, end) offsets of GraphQL string literals and comments, where a `{{ args.X }}` is harmless."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(query):
        if query.startswith('"""', i):
            end = _block_string_end(query, i + 3)
        elif query[i] == '"':
            end = _string_end(query, i + 1)
        elif query[i] == "#":
            newline = query.find("\n", i)
            end = len(query) if newline < 0 else newline
        else:
            i += 1
            continue
        spans.append((i, end))
        i = end
    return spans


def _block_string_end(query: str, i: int) -> int:
    while i < len(query):
        if query.startswith('\\"""', i):
            i += 4
        elif query.startswith('"""', i):
            return i + 3
        else:
            i += 1
    return len(query)


def _string_end(query: str, i: int) -> int:
    while i < len(query) and query[i] not in '"\n':
        i += 2 if query[i] == "\\" else 1
    return min(i + 1, len(query))


# --- operations and variables -----------------------------------------------------------------------------


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _check_operations(document: DocumentNode) -> list[QueryProblem]:
    operations = _operations(document)
    if not operations:
        return [QueryProblem("no operation: write `query name($duration: Duration!) { ... }`")]
    problems: list[QueryProblem] = []
    for extra in operations[1:]:
        # The provider sends no operationName, so the server cannot pick one of several operations.
        problems.append(_at_node(extra, "only one operation is allowed: the provider sends no operationName"))
    for operation in operations:
        if operation.operation is not OperationType.QUERY:
            problems.append(
                _at_node(operation, f"the operation must be a query, not a {operation.operation.value}")
            )
        problems += _check_variables(operation)
    return problems


def _check_variables(operation: OperationDefinitionNode) -> list[QueryProblem]:
    problems: list[QueryProblem] = []
    # graphql-core 3.3 leaves variable_definitions None when the operation declares none.
    declared = {v.variable.name.value: v for v in operation.variable_definitions or ()}
    duration = declared.pop(DURATION_VARIABLE, None)
    if duration is None:
        problems.append(
            _at_node(
                operation,
                "the query must declare `$duration: Duration!` and pass it on: "
                "it is the only variable the provider sends",
            )
        )
    elif _named(duration.type) != DURATION_TYPE or isinstance(duration.type, ListTypeNode):
        # Nullable `Duration` is accepted here (the provider always sends it); GraphQL validation still
        # rejects it where a field wants `Duration!`, as SkyWalking's server would.
        problems.append(_at_node(duration, "`$duration` must have type `Duration!`"))
    for name, definition in declared.items():
        if isinstance(definition.type, NonNullTypeNode) and definition.default_value is None:
            problems.append(
                _at_node(
                    definition,
                    f"`${name}` is required but never sent: the provider only sends `$duration` "
                    "(use a `{{ args.NAME }}` placeholder inside a string instead)",
                )
            )
    return problems


def _named(type_node: TypeNode) -> str:
    while not isinstance(type_node, NamedTypeNode):
        type_node = type_node.type  # type: ignore[attr-defined]  # TypeNode's subclasses all have .type
    return type_node.name.value


# --- result paths -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Document:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]


def _selection_paths(
    doc: _Document,
    selection_set: SelectionSetNode | None,
    parent: GraphQLNamedType | None,
    prefix: tuple[str, ...],
    seen_fragments: frozenset[str] = frozenset(),
) -> Iterator[tuple[str, ...]]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield from _field_paths(doc, selection, parent, prefix, seen_fragments)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            on = doc.schema.get_type(condition.name.value) if condition else parent
            yield from _selection_paths(doc, selection.selection_set, on, prefix, seen_fragments)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = doc.fragments.get(name)
            if fragment is None or name in seen_fragments:  # unknown or cyclic: validation reports it
                continue
            on = doc.schema.get_type(fragment.type_condition.name.value)
            yield from _selection_paths(doc, fragment.selection_set, on, prefix, seen_fragments | {name})


def _field_paths(
    doc: _Document,
    field: FieldNode,
    parent: GraphQLNamedType | None,
    prefix: tuple[str, ...],
    seen_fragments: frozenset[str],
) -> Iterator[tuple[str, ...]]:
    path = (*prefix, (field.alias or field.name).value)
    yield path
    field_type = _field_type(parent, field.name.value)
    # Each list level in the field's type is one more level of nesting in the JSON.
    while isinstance(field_type, GraphQLNonNull | GraphQLList):
        if isinstance(field_type, GraphQLList):
            path = (*path, LIST_ITEM)
            yield path
        field_type = field_type.of_type
    named = get_named_type(field_type) if field_type is not None else None
    yield from _selection_paths(doc, field.selection_set, named, path, seen_fragments)


def _field_type(parent: GraphQLNamedType | None, name: str) -> GraphQLOutputType | None:
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return None
    field = parent.fields.get(name)
    return field.type if field is not None else None


# --- positions --------------------------------------------------------------------------------------------


def _from_graphql_error(error: GraphQLError) -> QueryProblem:
    location = error.locations[0] if error.locations else None
    return QueryProblem(error.message, location.line if location else 0, location.column if location else 0)


def _at_node(node: Node, message: str) -> QueryProblem:
    token = node.loc.start_token if node.loc else None
    return QueryProblem(message, token.line if token else 0, token.column if token else 0)


def _at(text: str, offset: int, message: str) -> QueryProblem:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return QueryProblem(message, line, column)


def _sorted(problems: list[QueryProblem]) -> list[QueryProblem]:
    return sorted(problems, key=lambda p: (p.line, p.column, p.message))
