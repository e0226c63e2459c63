"""Check an Argo Rollouts successCondition/failureCondition before the controller compiles it.

Argo Rollouts compiles conditions with expr and gives them one variable, `result` (the provider's data),
and six functions of its own: asInt, asFloat, isNaN, isInf, isNil, default. Which expr depends on the
release: v1.9.x uses github.com/antonmedv/expr v1.15.5, v1.10 / master github.com/expr-lang/expr v1.17.8,
and their grammars and builtins differ (backtick strings, `if`/`else`, `;`, 1-argument count(), ...). A
typo there only shows up as a measurement Error during a rollout, so this module re-implements the part of
expr a condition uses for each release (a `Dialect`): a tokenizer and a Pratt parser following expr's
`parser.go` and operator table, then the checks of expr's `checker.go` that the env Argo Rollouts passes
turns on: every name must exist, every call must have the right arguments, and operand types must fit.
It also lists the `result.<...>` paths the condition reads, so a caller can compare them with what the
query returns. tests/differential/ compares the verdicts with the real compilers of both releases.

Columns are 1-based character offsets into the condition text: the column itself for a one-line
condition, which is what Argo Rollouts conditions normally are.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import NoReturn

# A path element meaning "every item of the list above", as in the predicate of all(result.a.values, {...}).
LIST_ITEM = "[]"

# --- dialects: which expr a given Argo Rollouts release compiles with ------------------------------------
#
# Argo Rollouts compiles a condition with `expr.Compile(condition, expr.Env(env))` where env maps `result`
# to the provider's data and six helpers to Go functions (utils/evaluate/evaluate.go, EvalCondition, same
# at tags v1.9.1 and master 9f8d111). expr.Env without AllowUndefinedVariables makes an unknown name a
# compile error ("unknown name x"), and the env's Go types make the checker type-check calls and operators:
# result is map[string]interface{} (decoded JSON), asInt(any) int64, asFloat(any) float64,
# isNaN/isInf(float64) bool, isNil(any) bool, default(any, any) any.
# v1.9.1 go.mod: github.com/antonmedv/expr v1.15.5; master go.mod: github.com/expr-lang/expr v1.17.8.
# The grammar below follows parser/lexer/state.go, parser/parser.go, parser/operator/operator.go,
# builtin/builtin.go and checker/checker.go of expr-lang/expr at tags v1.15.5 and v1.17.8.

# Grammar features only expr v1.17 has (tag v1.17.8; absent at v1.15.5):
_V17_FEATURES = {
    "backtick": "a `raw string`",  # lexer/state.go: case r == '`' -> scanRawString
    "bytes": 'a b"bytes" literal',  # lexer/state.go: b' / b" -> Bytes
    "unicode_brace_escape": "a \\u{...} escape",  # lexer/utils.go unescapeChar
    "builtin_prefix": "'::name()'",  # lexer: ':' accepts ':'; parser.go parsePrimary '::'
    "if_else": "'if ... { } else { }'",  # lexer identifier(): if/else are operators; parseConditionalIf
    "sequence": "';' between expressions",  # parser.go parseSequenceExpression
    "call_trailing_comma": "a trailing ',' in a call",  # parseArguments: `if p.current.Is(")") break`
    "chained_comparison": "a chained comparison like 'a < b < c'",  # parseComparison
    "optional_index": "'?.[...]'",  # parsePostfixExpression: `optional && propertyToken.Is("[")`
    "string_postfix": "indexing or a field of a string literal",  # parseSecondary: String falls through
    # checker: nil is no longer a float64's zero value (isNaN(nil)) nor a map key (`nil in result`).
    "strict_nil": "",
    # parser.go parseSecondary: 0X.., 0o.., 0b.. literals (v1.15.5 parses only a lowercase 0x prefix).
    "prefixed_literals": "a 0X, 0o or 0b number",
    "modulo_int": "",  # checker: `a % b` of unknown operands is an int
}
# The one v1.15 quirk v1.17 dropped: after `not`, any binary operator was accepted (`a not == b` was
# not(a == b)); v1.17 accepts only in/matches/contains/startsWith/endsWith (operator.AllowedNegateSuffix).
_V15_FEATURES = {"not_any_operator": ""}


@dataclass(frozen=True)
class Signature:
    """What the compiler checks about a call: how many arguments, their kinds, and the result's type."""

    params: tuple[str, ...]  # kinds: any, string, int, float, number, array, list, map, indexable, scalar
    required: int  # how many of params are mandatory
    returns: str
    variadic: bool = False  # the last kind repeats


def _sig(params: str, returns: str, required: int | None = None, variadic: bool = False) -> Signature:
    kinds = tuple(params.split())
    return Signature(kinds, len(kinds) if required is None else required, returns, variadic)


# Argo Rollouts' own functions (evaluate.go, both tags).
_ARGO = {
    "asInt": _sig("any", "int"),
    "asFloat": _sig("any", "float"),
    "isNaN": _sig("float", "bool"),
    "isInf": _sig("float", "bool"),
    "isNil": _sig("any", "bool"),
    "default": _sig("any any", "any"),
}
# expr builtins at v1.15.5 (builtin/builtin.go `Builtins`; arities from each Validate/Types).
_BUILTINS_15 = {
    "len": _sig("list", "int"),
    "type": _sig("any", "string"),
    "abs": _sig("number", "any"),
    "ceil": _sig("number", "float"),
    "floor": _sig("number", "float"),
    "round": _sig("number", "float"),
    "int": _sig("scalar", "int"),
    "float": _sig("scalar", "float"),
    "string": _sig("any", "string"),
    "trim": _sig("string string", "string", 1),
    "trimPrefix": _sig("string string", "string", 1),
    "trimSuffix": _sig("string string", "string", 1),
    "upper": _sig("string", "string"),
    "lower": _sig("string", "string"),
    "split": _sig("string string int", "array", 2),
    "splitAfter": _sig("string string int", "array", 2),
    "replace": _sig("string string string int", "string", 3),
    "repeat": _sig("string int", "string"),
    "join": _sig("array string", "string", 1),
    "indexOf": _sig("string string", "int"),
    "lastIndexOf": _sig("string string", "int"),
    "hasPrefix": _sig("string string", "bool"),
    "hasSuffix": _sig("string string", "bool"),
    "max": _sig("number", "any", 1, variadic=True),
    "min": _sig("number", "any", 1, variadic=True),
    "sum": _sig("array", "any"),
    "mean": _sig("array", "float"),
    "median": _sig("array", "float"),
    "toJSON": _sig("any", "string"),
    "fromJSON": _sig("string", "any"),
    "toBase64": _sig("string", "string"),
    "fromBase64": _sig("string", "string"),
    "now": _sig("", "time"),
    "duration": _sig("string", "duration"),
    "date": _sig("string string string", "time", 1),
    "first": _sig("array", "any"),
    "last": _sig("array", "any"),
    "get": _sig("indexable any", "any"),
    "take": _sig("array int", "array"),
    "keys": _sig("map", "array"),
    "values": _sig("map", "array"),
    "toPairs": _sig("map", "array"),
    "fromPairs": _sig("array", "map"),
    "sort": _sig("array string", "array", 1),
    "sortBy": _sig("array string string", "array", 2),
}
# expr builtins at v1.17.8: sum/sortBy became predicates, mean/median variadic, date takes any first.
_BUILTINS_17 = {
    **{name: sig for name, sig in _BUILTINS_15.items() if name not in ("sum", "sortBy")},
    "max": _sig("numbers", "any", 1, variadic=True),  # v1.17 also takes arrays
    "min": _sig("numbers", "any", 1, variadic=True),
    "mean": _sig("numbers", "float", 1, variadic=True),
    "median": _sig("numbers", "float", 1, variadic=True),
    "date": _sig("any string string", "time", 1),
    "timezone": _sig("string", "any"),
    "reverse": _sig("array", "array"),
    "uniq": _sig("array", "array"),
    "concat": _sig("array", "array", 1, variadic=True),
    "flatten": _sig("array", "array"),
    **dict.fromkeys(
        ("bitand", "bitor", "bitxor", "bitnand", "bitshl", "bitshr", "bitushr"), _sig("int int", "int")
    ),
    "bitnot": _sig("int", "int"),
}

# Builtins whose argument at a "predicate" position is a closure in which `#` / `.field` is the current
# item (parser.go `predicates`). "?" marks an optional argument.
_PREDICATES_15: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("all", "none", "any", "one", "filter", "map", "count", "find", "findIndex", "findLast"),
        ("expr", "predicate"),
    ),
    **dict.fromkeys(("findLastIndex", "groupBy"), ("expr", "predicate")),
    "reduce": ("expr", "predicate", "expr?"),
}
_PREDICATES_17: dict[str, tuple[str, ...]] = {
    **_PREDICATES_15,
    "count": ("expr", "predicate?"),
    "sum": ("expr", "predicate?"),
    "sortBy": ("expr", "predicate", "expr?"),
}
# What a predicate builtin returns, and which must have a boolean predicate (checker.go BuiltinNode).
_PREDICATE_RETURNS = {
    **dict.fromkeys(("all", "none", "any", "one"), "bool"),
    **{"filter": "array", "map": "array", "count": "int", "find": "any", "findLast": "any"},
    **{"findIndex": "int", "findLastIndex": "int", "groupBy": "map", "reduce": "any", "sum": "any"},
    "sortBy": "array",
}
_POINTERS = {"map": frozenset({"index"}), "reduce": frozenset({"index", "acc"})}
_BOOLEAN_PREDICATES = frozenset(
    ("all", "none", "any", "one", "filter", "count", "find", "findIndex", "findLast", "findLastIndex")
)


@dataclass(frozen=True)
class Dialect:
    """The expr grammar, builtins and type rules one Argo Rollouts release compiles conditions with."""

    rollouts: str  # the release line, as users name it: "v1.9"
    release: str  # the release the reference compiler was built from
    expr_module: str
    expr_version: str
    functions: Mapping[str, Signature]  # expr builtins and Argo Rollouts' helpers
    predicates: Mapping[str, tuple[str, ...]]
    features: frozenset[str]

    @property
    def expr(self) -> str:
        return f"expr {self.expr_version}"


DIALECTS: dict[str, Dialect] = {
    "v1.9": Dialect(
        "v1.9", "v1.9.1", "github.com/antonmedv/expr", "v1.15.5",
        {**_BUILTINS_15, **_ARGO}, _PREDICATES_15, frozenset(_V15_FEATURES),
    ),
    "v1.10": Dialect(
        "v1.10", "master (9f8d111)", "github.com/expr-lang/expr", "v1.17.8",
        {**_BUILTINS_17, **_ARGO}, _PREDICATES_17, frozenset(_V17_FEATURES),
    ),
}  # fmt: skip
ROLLOUTS_VERSIONS: tuple[str, ...] = tuple(DIALECTS)
"""The Argo Rollouts release lines conditions can be checked for."""
# The newest GA release is v1.9.1 (shared/reference/NOTES.md); v1.10 is at rc1 and master.
DEFAULT_ROLLOUTS_VERSION = "v1.9"


def dialect_for(rollouts_version: str) -> Dialect:
    """The dialect of an Argo Rollouts release: "v1.9", "1.9.1", "v1.10.0-rc1" or "v1.10" all work."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:-[0-9A-Za-z.]+)?", rollouts_version.strip())
    line = f"v{match.group(1)}.{match.group(2)}" if match else None
    if line is None or line not in DIALECTS:
        known = ", ".join(ROLLOUTS_VERSIONS)
        raise ValueError(f"unknown Argo Rollouts version {rollouts_version!r}: expected one of {known}")
    return DIALECTS[line]


def _needs(feature: str, dialect: Dialect, what: str) -> str:
    newer = next(d for d in DIALECTS.values() if feature in d.features)
    return (
        f"{what} needs Argo Rollouts {newer.rollouts} ({newer.expr}); "
        f"{dialect.rollouts} compiles with {dialect.expr}"
    )


FUNCTIONS = frozenset(DIALECTS[DEFAULT_ROLLOUTS_VERSION].functions) | frozenset(_PREDICATES_15)
"""Every function a condition may call with the default Argo Rollouts version."""

RESULT = "result"

# Binding strength of binary operators, higher binds tighter (expr's parser/operator/operator.go, the same
# table at v1.15.5 and v1.17.8).
_COMPARISONS = ("==", "!=", "<", ">", ">=", "<=", "in", "matches", "contains", "startsWith", "endsWith")
_ORDERING = frozenset(("<", ">", ">=", "<="))
_BINARY = {
    **{"|": 0, "or": 10, "||": 10, "and": 15, "&&": 15},
    **dict.fromkeys(_COMPARISONS, 20),
    **{"..": 25, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 100, "^": 100, "??": 500},
}
_RIGHT_ASSOCIATIVE = frozenset({"**", "^"})
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
_WORD_OPERATORS = frozenset({"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"})
_CONSTANTS = {"true": True, "false": False, "nil": None}

_OPERATORS = sorted(
    ("??", "?.", "..", "**", "==", "!=", "<=", ">=", "&&", "||", *"!<>+-*/%^?:.,#;=|"),
    key=len,
    reverse=True,
)
# expr's scanNumber: 0x/0o/0b prefixes, `_` separators, a fraction unless the dot starts a `..` range.
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9_]*(?:\.(?!\.)[0-9_]*)?(?:[eE][+-]?[0-9_]*)?"
)
_ESCAPE = re.compile(
    r"\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|[abfnrtv\\'\"]|.?)",
    re.S,
)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}

Path = tuple[str, ...]


@dataclass(frozen=True)
class ExprProblem:
    """One mistake in a condition; `column` is a 1-based character offset into the condition text."""

    message: str
    column: int
    # The compiler accepts it, but it cannot work at run time (a method of a JSON value, an ignored
    # argument): a mistake to report all the same, though not a compile error.
    advisory: bool = False


def check_condition(text: str, rollouts_version: str = DEFAULT_ROLLOUTS_VERSION) -> list[ExprProblem]:
    """Every problem in the condition, sorted by column: the first syntax error, else all name errors.

    `rollouts_version` names the Argo Rollouts release whose expr compiles the condition (see
    `ROLLOUTS_VERSIONS`); an unknown one raises ValueError.
    """
    dialect = dialect_for(rollouts_version)
    try:
        tree = _parse(text, dialect)
    except _SyntaxError as error:
        return [ExprProblem(error.message, error.pos + 1)]
    analysis = _Analysis(dialect)
    analysis.visit(tree, _Scope({}, None))
    return sorted(analysis.problems, key=lambda p: (p.column, p.message))


def compiles(text: str, rollouts_version: str = DEFAULT_ROLLOUTS_VERSION) -> bool:
    """Whether that release's Argo Rollouts compiles the condition (advisories do not count)."""
    return not any(not problem.advisory for problem in check_condition(text, rollouts_version))


def result_paths(text: str, rollouts_version: str = DEFAULT_ROLLOUTS_VERSION) -> list[tuple[Path, int]]:
    """The `result` paths the condition reads, with the column where each chain starts.

    `result.service_apdex.values.values` gives ("service_apdex", "values", "values"); `.value` in the
    predicate of all(result.a.values, {...}) gives ("a", "values", "[]", "value"); an integer index gives
    "[]" and a string index its key. Only the longest chain is listed, not its prefixes; a condition with a
    syntax error reads nothing.
    """
    dialect = dialect_for(rollouts_version)
    try:
        tree = _parse(text, dialect)
    except _SyntaxError:
        return []
    analysis = _Analysis(dialect)
    analysis.visit(tree, _Scope({}, None))
    # dict.fromkeys drops repeats: `a ?: b` holds the node `a` twice.
    return sorted(dict.fromkeys(analysis.paths), key=lambda p: p[1])


# --- tokens -----------------------------------------------------------------------------------------------


class _SyntaxError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


ConditionSyntaxError = _SyntaxError  # what `parse` raises


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, operator, bracket, eof
    text: str  # as written
    pos: int  # 0-based offset
    value: str | int | float | None = None  # numbers and strings, decoded


def _tokenize(text: str, dialect: Dialect) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        skipped = _skip_space_and_comments(text, i)
        if skipped != i:
            i = skipped
            continue
        token = _next_token(text, i, dialect)
        tokens.append(token)
        i = token.pos + len(token.text)
    tokens.append(_Token("eof", "", len(text)))
    return tokens


def _skip_space_and_comments(text: str, i: int) -> int:
    if text[i].isspace():
        return i + 1
    if text.startswith("//", i):
        newline = text.find("\n", i)
        return len(text) if newline < 0 else newline
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        if end < 0:
            raise _SyntaxError("unclosed comment: '/*' without '*/'", i)
        return end + 2
    return i


def _next_token(text: str, i: int, dialect: Dialect) -> _Token:
    char = text[i]
    if char.isdigit() or (char == "." and text[i + 1 : i + 2].isdigit()):
        return _number(text, i, dialect)
    if char in "\"'":
        return _quoted_string(text, i, dialect)
    if char in "bB" and text[i + 1 : i + 2] in ("'", '"') and "bytes" in dialect.features:
        string = _quoted_string(text, i + 1, dialect)
        return _Token("string", char + string.text, i, string.value)
    if char == "`":
        if "backtick" not in dialect.features:
            raise _SyntaxError(_needs("backtick", dialect, "a `raw string`"), i)
        # scanRawString: a doubled backtick stands for one.
        end = i + 1
        while True:
            end = text.find("`", end)
            if end < 0:
                raise _SyntaxError("unterminated string: '`' without a closing '`'", i)
            if text[end + 1 : end + 2] != "`":
                break
            end += 2
        return _Token("string", text[i : end + 1], i, text[i + 1 : end].replace("``", "`"))
    if char.isalpha() or char in "_$":
        end = i
        while end < len(text) and (text[end].isalnum() or text[end] in "_$"):
            end += 1
        return _Token("name", text[i:end], i)
    if char in "()[]{}":
        return _Token("bracket", char, i)
    if text.startswith("::", i) and "builtin_prefix" in dialect.features:
        return _Token("operator", "::", i)
    for operator in _OPERATORS:
        if text.startswith(operator, i):
            return _Token("operator", operator, i)
    hint = " (did you mean '&&'?)" if char == "&" else ""
    raise _SyntaxError(f"unexpected character {char!r}{hint}", i)


def _number(text: str, i: int, dialect: Dialect) -> _Token:
    # Like expr, a number followed by a letter (`9900x`, `1.foo`) is one bad token, not two.
    match = _NUMBER.match(text, i)
    end = match.end() if match else i
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        raise _SyntaxError(f"bad number {text[i : end + 1]!r}", i)
    written = text[i:end]
    digits = written.replace("_", "")
    prefix = digits[:2].lower()
    if prefix in ("0x", "0o", "0b") and digits[:2] != "0x" and "prefixed_literals" not in dialect.features:
        raise _SyntaxError(_needs("prefixed_literals", dialect, f"the number {written!r}"), i)
    try:
        if prefix in ("0x", "0o", "0b"):
            value: int | float = int(digits, 0)
        elif any(c in digits for c in ".eE"):
            value = float(digits)
        else:
            value = int(digits, 10)
    except ValueError:
        raise _SyntaxError(f"bad number {written!r}", i) from None
    # parser.go: strconv.ParseInt(.., 64) and ParseFloat(.., 64) fail out of range.
    if isinstance(value, int) and value > 2**63 - 1:
        raise _SyntaxError(f"integer literal {written!r} is too large", i)
    if isinstance(value, float) and math.isinf(value):
        raise _SyntaxError(f"float literal {written!r} is too large", i)
    return _Token("number", written, i, value)


def _quoted_string(text: str, i: int, dialect: Dialect) -> _Token:
    quote = text[i]
    end = i + 1
    while end < len(text) and text[end] != quote:
        if text[end] == "\n":
            break
        end += 2 if text[end] == "\\" else 1
    if end >= len(text) or text[end] != quote:
        raise _SyntaxError(f"unterminated string: {quote} without a closing {quote}", i)
    return _Token("string", text[i : end + 1], i, _unescape(text[i + 1 : end], i + 1, dialect))


def _unescape(body: str, pos: int, dialect: Dialect) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("u{"):
            if "unicode_brace_escape" not in dialect.features:
                raise _SyntaxError(
                    _needs("unicode_brace_escape", dialect, "a \\u{...} escape"), pos + match.start()
                )
            if int(code[2:-1], 16) > 0x10FFFF:
                raise _SyntaxError(f"invalid escape sequence '\\{code}' in a string", pos + match.start())
            return chr(int(code[2:-1], 16))
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if code in ("\\", "'", '"'):
            return code
        if code[:1] in ("x", "u", "U") and len(code) > 1:
            number = int(code[1:], 16)
            if number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
                raise _SyntaxError(f"invalid escape sequence '\\{code}' in a string", pos + match.start())
            return chr(number)
        if len(code) == 3 and code.isdigit():
            return chr(int(code, 8))
        raise _SyntaxError(f"invalid escape sequence '\\{code}' in a string", pos + match.start())

    return _ESCAPE.sub(replace, body)


# --- syntax tree ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    pos: int


@dataclass(frozen=True)
class _Literal(_Node):
    value: str | int | float | bool | None


@dataclass(frozen=True)
class _Name(_Node):
    name: str


@dataclass(frozen=True)
class _Pointer(_Node):
    """`#` (the current item of a predicate, also written as a leading `.field`), `#index` or `#acc`."""

    name: str


@dataclass(frozen=True)
class _Member(_Node):
    obj: _Node
    name: str
    optional: bool = False  # written `?.name`: nil instead of an error when obj is nil


@dataclass(frozen=True)
class _Index(_Node):
    obj: _Node
    index: _Node
    optional: bool = False  # written `?.[...]` (expr v1.17)


@dataclass(frozen=True)
class _Slice(_Node):
    obj: _Node
    start: _Node | None
    end: _Node | None


@dataclass(frozen=True)
class _Call(_Node):
    name: str
    args: tuple[_Node, ...]


@dataclass(frozen=True)
class _MethodCall(_Node):
    obj: _Node
    name: str
    args: tuple[_Node, ...]


@dataclass(frozen=True)
class _Closure(_Node):
    body: _Node


@dataclass(frozen=True)
class _Unary(_Node):
    operator: str
    operand: _Node


@dataclass(frozen=True)
class _Binary(_Node):
    operator: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Conditional(_Node):
    condition: _Node
    then: _Node
    otherwise: _Node


@dataclass(frozen=True)
class _Array(_Node):
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Map(_Node):
    entries: tuple[tuple[_Node, _Node], ...]


@dataclass(frozen=True)
class _Let(_Node):
    name: str
    value: _Node
    body: _Node


@dataclass(frozen=True)
class _Sequence(_Node):
    """`a; b` (expr v1.17): every item is evaluated, the value is the last one's."""

    items: tuple[_Node, ...]


def _children(node: _Node) -> Iterator[_Node]:
    """Sub-expressions, for the nodes the analysis does not handle one by one."""
    match node:
        case _Unary(operand=operand):
            yield operand
        case _Binary(left=left, right=right):
            yield from (left, right)
        case _Conditional(condition=condition, then=then, otherwise=otherwise):
            yield from (condition, then, otherwise)
        case _Array(items=items):
            yield from items
        case _Map(entries=entries):
            for key, value in entries:
                yield from (key, value)
        case _Closure(body=body):
            yield body
        case _Sequence(items=items):
            yield from items


# --- parser -----------------------------------------------------------------------------------------------


def _parse(text: str, dialect: Dialect) -> _Node:
    return _Parser(_tokenize(text, dialect), dialect).parse()


def parse(text: str, rollouts_version: str = DEFAULT_ROLLOUTS_VERSION) -> _Node:
    """The syntax tree of a condition, for rules that read its shape; raises ConditionSyntaxError."""
    return _parse(text, dialect_for(rollouts_version))


class _Parser:
    """Recursive descent with precedence climbing, shaped like expr's `parser.go` so it accepts the same."""

    def __init__(self, tokens: list[_Token], dialect: Dialect) -> None:
        self.tokens = tokens
        self.dialect = dialect
        self.features = dialect.features
        # `if`/`else` are operators only where the grammar has them (lexer/state.go identifier()).
        self.keywords = _WORD_OPERATORS | {"let"} | ({"if", "else"} if "if_else" in self.features else set())
        self.i = 0
        self.depth = 0  # how many predicates we are inside: `#` and `.field` are only valid there

    # token helpers

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        token = self.tok
        if token.kind != "eof":
            self.i += 1
        return token

    def peek(self) -> tuple[str, str]:
        following = self.tokens[min(self.i + 1, len(self.tokens) - 1)]
        return following.kind, following.text

    def at(self, kind: str, *texts: str) -> bool:
        return self.tok.kind == kind and (not texts or self.tok.text in texts)

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.text in words

    def fail(self, message: str, token: _Token | None = None) -> NoReturn:
        raise _SyntaxError(message, (token or self.tok).pos)

    def close(self, opening: _Token, closer: str) -> None:
        if self.at("bracket", closer):
            self.advance()
        elif self.tok.kind == "eof":
            self.fail(f"unclosed '{opening.text}': expected '{closer}' before the end", opening)
        else:
            self.fail(
                f"expected '{closer}' to close the '{opening.text}' at column {opening.pos + 1}, "
                f"found {_describe(self.tok)}"
            )

    def comma(self, opening: _Token, closer: str) -> None:
        if self.at("operator", ","):
            self.advance()
            if self.tok.kind == "eof":
                self.fail(f"unclosed '{opening.text}': expected '{closer}' before the end", opening)
        elif self.tok.kind == "eof":
            self.fail(f"unclosed '{opening.text}': expected '{closer}' before the end", opening)
        else:
            self.fail(f"expected ',' or '{closer}', found {_describe(self.tok)}")

    # grammar

    def parse(self) -> _Node:
        if self.tok.kind == "eof":
            self.fail("empty expression")
        node = self.sequence(top=True)
        if self.at("bracket", ")", "]", "}"):
            self.fail(f"unbalanced '{self.tok.text}': nothing to close")
        if self.at("operator", ";") and "sequence" not in self.features:
            self.fail(_needs("sequence", self.dialect, "';' between expressions"))
        if self.at_word("if", "else") and "if_else" not in self.features:
            self.fail(_needs("if_else", self.dialect, "'if ... { } else { }'"))
        if self.tok.kind != "eof":
            self.fail(f"unexpected {_describe(self.tok)} (missing operator?)")
        return node

    def sequence(self, top: bool = False) -> _Node:
        """expr v1.17's parseSequenceExpression: `a; b; c`, a trailing ';' only at the very end."""
        first = self.expression(0)
        if "sequence" not in self.features:
            return first
        items = [first]
        while self.at("operator", ";"):
            self.advance()
            if top and self.tok.kind == "eof":
                break
            items.append(self.expression(0))
        return items[0] if len(items) == 1 else _Sequence(first.pos, tuple(items))

    def expression(self, precedence: int) -> _Node:
        if precedence == 0 and self.at_word("let"):
            return self.let()
        if precedence == 0 and self.at_word("if") and "if_else" in self.features:
            return self.if_else()
        if self.at_word("if") and "if_else" not in self.features and self.peek()[0] != "operator":
            kind, _ = self.peek()
            if kind != "eof" and self.peek() != ("bracket", ")"):
                self.fail(_needs("if_else", self.dialect, "'if ... { } else { }'"))
        left = self.primary()
        previous = ""
        while (found := self.binary_operator(precedence)) is not None:
            token, operator = found
            if operator == "|":
                left = self.pipe(left)
            elif previous == "??" and operator != "??":
                self.fail(f"'{operator}' and '??' cannot be mixed: add parentheses", token)
            elif operator in _ORDERING and "chained_comparison" in self.features:
                left = self.comparison(left, token, operator)
            else:
                strength = _BINARY[operator.removeprefix("not ")]
                right = self.expression(strength if operator in _RIGHT_ASSOCIATIVE else strength + 1)
                left = _Binary(token.pos, operator, left, right)
            previous = operator
        return self.conditional(left) if precedence == 0 else left

    def comparison(self, left: _Node, token: _Token, operator: str) -> _Node:
        """expr v1.17's parseComparison: `a < b <= c` is `a < b && b <= c`."""
        node: _Node | None = None
        while True:
            right = self.expression(_BINARY[operator] + 1)
            compared = _Binary(token.pos, operator, left, right)
            node = compared if node is None else _Binary(token.pos, "&&", node, compared)
            left, token = right, self.tok
            if not (token.kind == "operator" and token.text in _ORDERING):
                return node
            operator = self.advance().text

    def binary_operator(self, precedence: int) -> tuple[_Token, str] | None:
        """Consume and return the binary operator at the cursor if it binds at least as tight as asked."""
        token = self.tok
        if self.at("operator", "="):
            self.fail("'=' is not a comparison: use '=='")
        if self.at_word("not"):
            kind, word = self.peek()
            quirk = "not_any_operator" in self.features and word in _BINARY and word != "|"
            # expr v1.15.5 parseExpression: `not` takes any binary operator after it.
            if quirk and (kind == "operator" or word in _WORD_OPERATORS):
                if _BINARY[word] < precedence:
                    # v1.15.5 has consumed the `not` before it sees the operator binds too loosely, and
                    # drops it: `-1 not in [1]` is `-1 in [1]`, `a == b not in c` is `(a == b) in c`.
                    self.i += 1
                    return None
                self.i += 2
                return token, f"not {word}"
            if not (kind == "name" and word in _NEGATABLE):
                self.fail(
                    "'not' after a value must be followed by in, matches, contains, startsWith or endsWith"
                )
            if _BINARY[word] < precedence:
                self.i += "not_any_operator" in self.features  # the same v1.15.5 quirk
                return None
            self.i += 2
            return token, f"not {word}"
        is_operator = token.kind == "operator" or (token.kind == "name" and token.text in _WORD_OPERATORS)
        if not is_operator or token.text not in _BINARY or _BINARY[token.text] < precedence:
            return None
        self.advance()
        return token, token.text

    def conditional(self, node: _Node) -> _Node:
        while self.at("operator", "?"):
            question = self.advance()
            if self.at("operator", ":"):  # `a ?: b` is `a ? a : b`
                self.advance()
                then = node
            else:
                then = self.expression(0)
                if not self.at("operator", ":"):
                    self.fail(f"expected ':' for the '?' at column {question.pos + 1}")
                self.advance()
            node = _Conditional(question.pos, node, then, self.expression(0))
        return node

    def let(self) -> _Node:
        self.advance()
        name = self.tok
        if name.kind != "name" or name.text in self.keywords:
            self.fail(f"expected a variable name after 'let', found {_describe(name)}")
        if name.text == RESULT:  # checker.go VariableDeclaratorNode: the env already has it
            self.fail(f"cannot redeclare {RESULT}")
        self.advance()
        if not self.at("operator", "="):
            self.fail(f"expected '=' after 'let {name.text}'")
        self.advance()
        value = self.expression(0)
        if not self.at("operator", ";"):
            self.fail(f"expected ';' after the value of 'let {name.text}'")
        self.advance()
        return _Let(name.pos, name.text, value, self.sequence())

    def if_else(self) -> _Node:
        keyword = self.advance()
        condition = self.expression(0)
        then = self.block()
        if not self.at_word("else"):
            self.fail("expected 'else' after the 'if' block")
        self.advance()
        otherwise = self.if_else() if self.at_word("if") else self.block()
        return _Conditional(keyword.pos, condition, then, otherwise)

    def block(self) -> _Node:
        if not self.at("bracket", "{"):
            self.fail(f"expected '{{', found {_describe(self.tok)}")
        opening = self.advance()
        body = self.sequence()
        self.close(opening, "}")
        return body

    def primary(self) -> _Node:
        token = self.tok
        if token.text in _UNARY and (token.kind == "operator" or self.at_word("not")):
            self.advance()
            operand = self.expression(_UNARY[token.text])
            return self.postfix(_Unary(token.pos, token.text, operand))
        if self.at("bracket", "("):
            self.advance()
            inner = self.sequence()
            self.close(token, ")")
            return self.postfix(inner)
        if self.at("operator", "#", "."):
            return self.pointer()
        if self.at("operator", ":") and self.peek() == ("operator", ":"):
            self.fail(_needs("builtin_prefix", self.dialect, "'::name()'"))
        if self.at("operator", "::"):  # `::name()` calls expr's builtin even where the env overrides it
            self.advance()
            name = self.tok
            if name.kind != "name" or self.peek() != ("bracket", "("):
                self.fail("expected a function call after '::'")
            self.advance()
            return self.postfix(self.call(name, []))
        return self.secondary()

    def pointer(self) -> _Node:
        token = self.tok
        if self.depth == 0:
            kind, word = self.peek()
            written = token.text + word if kind == "name" and token.text == "." else token.text
            self.fail(f"'{written}' only works inside a predicate, e.g. all(result.x, {{.value > 0}})")
        if token.text == ".":
            # `.field` is `#.field`: leave the dot for postfix() to read as a member access.
            return self.postfix(_Pointer(token.pos, ""))
        self.advance()
        name = ""
        # parsePrimary takes the identifier after `#` as its name, even after a space: `# index`.
        if self.tok.kind == "name" and self.tok.text not in self.keywords:
            name = self.advance().text
            if name not in ("index", "acc"):
                self.fail(f"unknown pointer '#{name}': use #, #index or #acc", token)
        return self.postfix(_Pointer(token.pos, name))

    def secondary(self) -> _Node:
        token = self.tok
        node: _Node
        if token.kind == "number":  # parseSecondary returns a number without reading a postfix
            self.advance()
            return _Literal(token.pos, token.value)
        if token.kind == "string":
            self.advance()
            node = _Literal(token.pos, token.value)
            if "string_postfix" not in self.features:
                if self.at("operator", ".", "?.") or self.at("bracket", "["):
                    self.fail(
                        _needs("string_postfix", self.dialect, "indexing or a field of a string literal")
                    )
                return node
        elif token.kind == "name" and token.text not in self.keywords:
            self.advance()
            if token.text in _CONSTANTS:
                return _Literal(token.pos, _CONSTANTS[token.text])
            node = self.call(token, []) if self.at("bracket", "(") else _Name(token.pos, token.text)
        elif self.at("bracket", "["):
            node = self.array()
        elif self.at("bracket", "{"):
            node = self.map()
        else:
            self.fail(self.missing_value())
        return self.postfix(node)

    def missing_value(self) -> str:
        previous = self.tokens[self.i - 1] if self.i > 0 else None
        found = _describe(self.tok)
        if previous is not None and (previous.kind == "operator" or previous.text in _WORD_OPERATORS):
            return f"expected a value after '{previous.text}', found {found}"
        return f"expected a value, found {found}"

    def postfix(self, node: _Node) -> _Node:
        while True:
            if self.at("operator", ".", "?."):
                dot = self.advance()
                if dot.text == "?." and self.at("bracket", "["):
                    if "optional_index" not in self.features:
                        self.fail(_needs("optional_index", self.dialect, "'?.[...]'"))
                    node = self.index(node, optional=True)
                    continue
                node = self.member(node, dot)
            elif self.at("bracket", "["):
                node = self.index(node)
            else:
                return node

    def member(self, node: _Node, dot: _Token) -> _Node:
        name = self.tok
        if name.kind != "name":
            self.fail(f"expected a field name after '{dot.text}', found {_describe(name)}")
        self.advance()
        if not self.at("bracket", "("):
            return _Member(name.pos, node, name.text, dot.text == "?.")
        opening = self.advance()
        return _MethodCall(name.pos, node, name.text, tuple(self.arguments(opening, [])))

    def index(self, node: _Node, optional: bool = False) -> _Node:
        opening = self.advance()
        start = None if self.at("operator", ":") else self.expression(0)
        if start is not None and not self.at("operator", ":"):
            self.close(opening, "]")
            return _Index(opening.pos, node, start, optional)
        self.advance()  # the ':' of a slice
        end = None if self.at("bracket", "]") else self.expression(0)
        self.close(opening, "]")
        return _Slice(opening.pos, node, start, end)

    def call(self, name: _Token, piped: list[_Node]) -> _Node:
        opening = self.advance()  # callers checked it is '('
        kinds = self.dialect.predicates.get(name.text)
        if kinds is None:
            return _Call(name.pos, name.text, tuple(self.arguments(opening, piped)))
        args = list(piped)
        required = sum(1 for kind in kinds if not kind.endswith("?"))
        for i, kind in enumerate(kinds[len(piped) :]):
            if self.at("bracket", ")"):
                if kind.endswith("?"):
                    break
                self.fail(f"{name.text}() needs at least {required} arguments: a list and a predicate")
            if i > 0:
                self.comma(opening, ")")
            args.append(self.predicate() if kind.startswith("predicate") else self.expression(0))
        if self.at("operator", ",") and self.peek() == ("bracket", ")"):
            if "call_trailing_comma" not in self.features:
                self.fail(_needs("call_trailing_comma", self.dialect, "a trailing ',' in a call"))
            self.advance()
        self.close(opening, ")")
        return _Call(name.pos, name.text, tuple(args))

    def arguments(self, opening: _Token, args: list[_Node]) -> list[_Node]:
        first = len(args)
        while not self.at("bracket", ")"):
            if len(args) > first:
                self.comma(opening, ")")
                if self.at("bracket", ")"):  # a trailing comma
                    if "call_trailing_comma" not in self.features:
                        self.fail(_needs("call_trailing_comma", self.dialect, "a trailing ',' in a call"))
                    break
            args.append(self.expression(0))
        self.close(opening, ")")
        return args

    def predicate(self) -> _Node:
        start = self.tok
        braced = self.at("bracket", "{")
        if braced:
            self.advance()
        self.depth += 1
        body = self.sequence() if braced else self.expression(0)
        self.depth -= 1
        if braced:
            self.close(start, "}")
        elif self.at("operator", ";") and "sequence" in self.features:
            self.fail("wrap the predicate in { and } to use ';'")
        return _Closure(start.pos, body)

    def pipe(self, left: _Node) -> _Node:
        name = self.tok
        if name.kind != "name" or name.text in self.keywords:
            self.fail(f"expected a function call after '|', found {_describe(name)}")
        self.advance()
        if not self.at("bracket", "("):
            self.fail(f"expected '(' after '{name.text}': a pipe needs a call, e.g. | len()")
        return self.call(name, [left])

    def array(self) -> _Node:
        opening = self.advance()
        items: list[_Node] = []
        while not self.at("bracket", "]"):
            if items:
                self.comma(opening, "]")
                if self.at("bracket", "]"):
                    break
            items.append(self.expression(0))
        self.close(opening, "]")
        return _Array(opening.pos, tuple(items))

    def map(self) -> _Node:
        opening = self.advance()
        entries: list[tuple[_Node, _Node]] = []
        while not self.at("bracket", "}"):
            if entries:
                self.comma(opening, "}")
                if self.at("bracket", "}"):
                    break
            key = self.map_key()
            if not self.at("operator", ":"):
                self.fail(f"expected ':' after the map key, found {_describe(self.tok)}")
            self.advance()
            entries.append((key, self.expression(0)))
        self.close(opening, "}")
        return _Map(opening.pos, tuple(entries))

    def map_key(self) -> _Node:
        token = self.tok
        if token.kind in ("number", "string", "name"):
            self.advance()
            return _Literal(token.pos, token.value if token.kind != "name" else token.text)
        if self.at("bracket", "("):
            return self.expression(0)
        message = (
            f"a map key must be a name, a quoted string, a number or (expression), found {_describe(token)}"
        )
        if self.at("operator", ".", "#"):
            message += " ({ .field ... } is a predicate only as an argument of all, any, filter, map, ...)"
        self.fail(message)


def _describe(token: _Token) -> str:
    return "end of expression" if token.kind == "eof" else f"'{token.text}'"


# --- names and paths --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    variables: dict[str, Path | None]  # `let` bindings in force, with the result path they hold if any
    item: Path | None  # the result path of `#` in the innermost predicate, when it is known
    pointers: frozenset[str] = frozenset()  # the named pointers of that predicate: index, acc
    types: Mapping[str, str] = field(default_factory=dict)  # the type of each `let` binding
    item_type: str | None = None  # the type of `#`; None outside predicates


# Calls whose value has the same items as their first argument, or is one of its items.
_SAME_ITEMS = frozenset({"filter", "sortBy", "sort", "reverse", "uniq", "take"})
_ONE_ITEM = frozenset({"first", "last", "find", "findLast"})
_PATH_CALLS = _SAME_ITEMS | _ONE_ITEM

# The checker's types, by the Go type names its messages use. "any" is interface{}: whatever result.x is,
# known only at run time. "range" is the []int of `a..b`.
_GO_TYPES = {
    "any": "interface {}",
    "int": "int",
    "float": "float64",
    "string": "string",
    "bool": "bool",
    "nil": "nil",
    "array": "[]interface {}",
    "range": "[]int",
    "map": "map[string]interface {}",
    "time": "time.Time",
    "duration": "time.Duration",
    "func": "func",
}
_NUMBERS = frozenset(("int", "float"))
_ARRAYS = frozenset(("array", "range"))
# Which argument types each parameter kind of a Signature takes ("any" arguments always pass).
_KINDS = {
    "any": frozenset(_GO_TYPES),
    "string": frozenset(("string",)),
    "int": frozenset(("int",)),
    "float": frozenset(("int", "float")),
    "number": _NUMBERS,
    "numbers": _NUMBERS | _ARRAYS,
    "array": _ARRAYS | {"nil"},
    "list": _ARRAYS | {"map", "string"},
    "map": frozenset(("map", "nil")),
    "indexable": _ARRAYS | {"map", "string"},
    "scalar": _NUMBERS | {"string"},
}
# Patterns Go's RE2 rejects although Python's re compiles them: lookaround and backreferences.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]")


class _Analysis:
    """Names, calls and types, as expr's checker/checker.go sees them with Argo Rollouts' env."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.problems: list[ExprProblem] = []
        self.paths: list[tuple[Path, int]] = []

    def visit(self, node: _Node, scope: _Scope, in_chain: bool = False) -> str:
        """Check `node` and return its type; `in_chain`: an enclosing member access recorded its path."""
        match node:
            case _Literal(value=value):
                return _literal_type(value)
            case _Name():
                return self.check_name(node, scope)
            case _Pointer():
                return self.check_pointer(node, scope)
            case _Member() | _Index() | _Slice():
                in_chain = in_chain or self.record(node, scope)
                obj = self.visit(node.obj, scope, in_chain)
                parts = [self.visit(part, scope) for part in _index_parts(node)]
                return self.check_access(node, obj, parts)
            case _MethodCall():
                obj = self.visit(node.obj, scope)
                for arg in node.args:
                    self.visit(arg, scope)
                if obj in ("time", "duration"):
                    return "any"
                if obj == "any":
                    message = f"'{node.name}()' is called as a method, but result holds plain JSON values"
                    self.problem(node, message, advisory=True)
                    return "any"
                return self.error(node, f"type {_GO_TYPES[obj]} has no method {node.name}")
            case _Call():
                return self.check_call(node, scope)
            case _Let():
                value = self.visit(node.value, scope)
                variables = {**scope.variables, node.name: _path(node.value, scope)}
                types = {**scope.types, node.name: value}
                return self.visit(node.body, replace(scope, variables=variables, types=types))
            case _Sequence(items=items):
                return [self.visit(item, scope) for item in items][-1]
            case _Unary(operator=operator, operand=operand):
                return self.unary(node, operator, self.visit(operand, scope))
            case _Binary(operator=operator, left=left, right=right):
                return self.binary(node, operator, self.visit(left, scope), self.visit(right, scope))
            case _Conditional(condition=condition, then=then, otherwise=otherwise):
                tested = self.visit(condition, scope)
                branches = {self.visit(then, scope), self.visit(otherwise, scope)}
                if tested not in ("bool", "any"):
                    self.error(condition, f"non-bool expression (type {_GO_TYPES[tested]}) used as condition")
                return branches.pop() if len(branches) == 1 else "any"
            case _Array(items=items):
                for item in items:
                    self.visit(item, scope)
                return "array"
            case _Map(entries=entries):
                for key, item in entries:
                    self.visit(key, scope)
                    self.visit(item, scope)
                return "map"
            case _:
                for child in _children(node):
                    self.visit(child, scope)
                return "any"

    def check_name(self, node: _Name, scope: _Scope) -> str:
        if node.name in scope.variables:
            return scope.types.get(node.name, "any")
        if node.name in (RESULT, "$env"):
            return "map"
        if node.name in _ARGO or node.name in self.dialect.functions or node.name in self.dialect.predicates:
            return "func"  # a function as a value: fine to compare with nil, useless otherwise
        message = f"unknown variable '{node.name}': Argo Rollouts only provides '{RESULT}'"
        self.problem(node, message + _did_you_mean(node.name, {RESULT, *scope.variables}))
        return "any"

    def check_pointer(self, node: _Pointer, scope: _Scope) -> str:
        if scope.item_type is None:  # the parser allows `#` only in predicates; a `let` cannot move it
            return self.error(node, "cannot use pointer accessor outside closure")
        if node.name == "":
            return scope.item_type
        if node.name in scope.pointers:
            return "int" if node.name == "index" else "any"
        hints = {
            "index": " (#index exists only in map() and reduce())",
            "acc": " (#acc exists only in reduce())",
        }
        return self.error(node, f"unknown pointer #{node.name}{hints.get(node.name, '')}")

    def check_access(self, node: _Member | _Index | _Slice, obj: str, parts: list[str]) -> str:
        go = _GO_TYPES[obj]
        if obj in ("any", "time", "duration"):
            return "any"
        if isinstance(node, _Slice):
            if obj in _ARRAYS or obj == "string":
                return obj
            return self.error(node, f"cannot slice {go}")
        key = "string" if isinstance(node, _Member) else parts[0]
        if obj == "map":
            if key not in ("string", "any", "nil"):
                return self.error(node, f"cannot use {_GO_TYPES[key]} to get an element from {go}")
            return "any"
        if obj in _ARRAYS:
            if key not in ("int", "any"):
                message = f"array elements can only be selected using an integer (got {_GO_TYPES[key]})"
                return self.error(node, message)
            return "int" if obj == "range" else "any"
        if isinstance(node, _Member):
            return self.error(node, f"type {go} has no field {node.name}")
        return self.error(node, f"type {go} does not support indexing")

    def check_call(self, node: _Call, scope: _Scope) -> str:
        functions, predicates = self.dialect.functions, self.dialect.predicates
        if node.name in scope.variables or node.name == RESULT:
            for arg in node.args:
                self.visit(arg, scope)
            return self.error(node, f"'{node.name}' is not a function")
        if node.name in predicates:
            return self.check_predicate_call(node, scope)
        args = [self.visit(arg, scope) for arg in node.args]
        signature = functions.get(node.name)
        if signature is None:
            newer = [d for d in DIALECTS.values() if node.name in d.functions or node.name in d.predicates]
            if newer:
                return self.error(node, _needs_function(node.name, newer[0], self.dialect))
            known = frozenset(functions) | frozenset(predicates)
            return self.error(node, f"unknown function '{node.name}'" + _did_you_mean(node.name, known))
        if not self.check_arguments(node, signature, args):
            return "any"
        if node.name in _ARGO:
            self.check_argo_function(node)
        if node.name == "abs" and args[0] in _NUMBERS:
            return args[0]
        return signature.returns

    def check_arguments(self, node: _Call, signature: Signature, args: list[str]) -> bool:
        low, high = signature.required, len(signature.params)
        if len(args) < low or (len(args) > high and not signature.variadic):
            if signature.variadic:
                wanted = f"at least {low} argument{'s' if low != 1 else ''}"
            elif low == high:
                wanted = f"{low} argument{'s' if low != 1 else ''}"
            else:
                wanted = f"{low} to {high} arguments"
            self.error(node, f"{node.name}() takes {wanted}, got {len(args)}")
            return False
        for position, (arg, argument) in enumerate(zip(args, node.args, strict=True)):
            if arg == "any" and signature.variadic:
                break  # builtin.go max/min Validate: an interface{} argument ends the check
            kind = signature.params[min(position, len(signature.params) - 1)]
            accepted = _KINDS[kind] | {"any"}
            if kind == "float" and "strict_nil" not in self.dialect.features:
                accepted |= {"nil"}  # expr v1.15.5 passes nil as a float64's zero value
            if arg not in accepted:
                self.error(argument, f"cannot use {_GO_TYPES[arg]} as argument ({kind}) to call {node.name}")
                return False
        return True

    def check_predicate_call(self, node: _Call, scope: _Scope) -> str:
        collection = self.visit(node.args[0], scope)
        if collection not in ("any", *_ARRAYS):
            self.error(node.args[0], f"builtin {node.name} takes only array (got {_GO_TYPES[collection]})")
        path = _path(node.args[0], scope)
        item = None if path is None else (*path, LIST_ITEM)
        item_type = "int" if collection == "range" else "any"
        for arg in node.args[1:]:
            if not isinstance(arg, _Closure):
                self.visit(arg, scope)
                continue
            # checker.go: map() declares #index, reduce() #index and #acc (v.begin(collection, ...)).
            pointers = _POINTERS.get(node.name, frozenset())
            inner = replace(scope, item=item, item_type=item_type, pointers=pointers)
            returned = self.visit(arg.body, inner)
            if node.name in _BOOLEAN_PREDICATES and returned not in ("bool", "any"):
                self.error(arg, f"predicate should return boolean (got {_GO_TYPES[returned]})")
            if node.name == "sum":
                return returned
        return _PREDICATE_RETURNS[node.name]

    def unary(self, node: _Node, operator: str, operand: str) -> str:
        if operator in ("!", "not") and operand in ("bool", "any"):
            return "bool"
        if operator in ("+", "-") and operand in ("int", "float", "any"):
            return operand
        return self.error(node, f"invalid operation: {operator} (mismatched type {_GO_TYPES[operand]})")

    def binary(self, node: _Binary, operator: str, left: str, right: str) -> str:
        """checker.go BinaryNode: the operand types each operator takes, and what it gives."""
        if operator.startswith("not "):
            return self.unary(node, "not", self.binary(node, operator[4:], left, right))
        result = _binary_type(operator, left, right)
        if result == "bool" and operator == "in" and right == "map" and left == "nil":
            result = None if "strict_nil" in self.dialect.features else result
        if result == "any" and operator == "%" and "modulo_int" in self.dialect.features:
            result = "int"
        if result is None:
            go_left, go_right = _GO_TYPES[left], _GO_TYPES[right]
            if operator == "in" and right == "map" and left == "nil":
                return self.error(node, "cannot use unknown as type string in map key")
            if operator == "in" and right == "map":
                return self.error(node, f"cannot use {go_left} as type string in map key")
            return self.error(
                node, f"invalid operation: {operator} (mismatched types {go_left} and {go_right})"
            )
        if operator == "matches" and isinstance(node.right, _Literal) and isinstance(node.right.value, str):
            pattern = node.right.value
            try:
                re.compile(pattern)
            except re.error as error:
                return self.error(node, f"error parsing regexp: {error}")
            if _NOT_RE2.search(pattern):
                return self.error(node, "error parsing regexp: Go's RE2 has no lookaround or backreference")
        return result

    def check_argo_function(self, node: _Call) -> None:
        if node.name in ("isNil", "default") and not _is_result(node.args[0]):
            # Argo Rollouts' isNil(x) and default(x, d) ignore x: they test the whole result.
            what = (
                "is true only when result itself is nil" if node.name == "isNil" else "returns result itself"
            )
            message = f"{node.name}() ignores its first argument and {what} (compare with nil instead)"
            self.problem(node, message, advisory=True)

    def record(self, node: _Node, scope: _Scope) -> bool:
        """Note the result path `node` reads; True if it has one (so its inner chain is not listed again)."""
        path = _path(node, scope)
        if path is None:
            return False
        if path:
            self.paths.append((path, _chain_start(node) + 1))
        return True

    def problem(self, node: _Node, message: str, advisory: bool = False) -> None:
        self.problems.append(ExprProblem(message, node.pos + 1, advisory))

    def error(self, node: _Node, message: str) -> str:
        self.problem(node, message)
        return "any"


def _literal_type(value: str | int | float | bool | None) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "string"}[type(value)]


def _either(left: str, right: str, *accepted: frozenset[str] | set[str]) -> bool:
    """types.go `or`: both unknown, or one unknown and the other of an accepted kind."""
    kinds = frozenset().union(*accepted)
    return (
        (left == right == "any") or (left == "any" and right in kinds) or (right == "any" and left in kinds)
    )


def _binary_type(operator: str, left: str, right: str) -> str | None:
    """The type of `left operator right`, None where expr's checker rejects it (checker.go BinaryNode)."""
    numbers = _NUMBERS | {"duration"}  # time.Duration is an int64: isNumber() holds
    both_numbers = left in numbers and right in numbers
    combined = "int" if left == right == "int" else "float"
    if operator in ("==", "!="):
        comparable = "nil" in (left, right) or "any" in (left, right) or left == right or both_numbers
        return "bool" if comparable or {left, right} <= _ARRAYS else None
    if operator in ("or", "||", "and", "&&"):
        return "bool" if (left == right == "bool") or _either(left, right, {"bool"}) else None
    if operator in _ORDERING:
        same = both_numbers or left == right == "string" or left == right == "time"
        return "bool" if same or _either(left, right, numbers, {"string", "time"}) else None
    if operator == "-":
        if left == right == "time":
            return "duration"
        if left == "time" and right == "duration":
            return "time"
        if both_numbers:
            return combined
        return "any" if _either(left, right, numbers, {"time"}) else None
    if operator == "*":
        return combined if both_numbers else "any" if _either(left, right, numbers) else None
    if operator in ("/", "**", "^"):
        return "float" if both_numbers or _either(left, right, numbers) else None
    if operator == "%":
        return "int" if left == right == "int" else "any" if _either(left, right, {"int"}) else None
    if operator == "+":
        if {left, right} == {"time", "duration"}:
            return "time"
        if both_numbers:
            return combined
        if left == right == "string":
            return "string"
        return "any" if _either(left, right, numbers, {"string", "time", "duration"}) else None
    if operator == "in":
        if right == "map":
            return "bool" if left in ("string", "any", "nil") else None
        if right in _ARRAYS or right == "any":
            return "bool"
        return "bool" if left == "any" and right in ("string", "map") else None
    if operator in ("matches", "contains", "startsWith", "endsWith"):
        return "bool" if left == right == "string" or _either(left, right, {"string"}) else None
    if operator == "..":
        return "range" if left == right == "int" or _either(left, right, {"int"}) else None
    if operator == "??":
        return left if left == right else right if left == "nil" else left if right == "nil" else "any"
    return None


def _needs_function(name: str, newer: Dialect, dialect: Dialect) -> str:
    return (
        f"{name}() needs Argo Rollouts {newer.rollouts} ({newer.expr}); "
        f"{dialect.rollouts} compiles with {dialect.expr}, which has no {name}()"
    )


def _path(node: _Node, scope: _Scope) -> Path | None:
    """The result path an expression reads, or None when it is not a plain walk down `result`."""
    match node:
        case _Name(name=name) if name in scope.variables:
            return scope.variables[name]
        case _Name(name=name) if name == RESULT:
            return ()
        case _Pointer(name=""):
            return scope.item
        case _Member(obj=obj, name=name):
            base = _path(obj, scope)
            return None if base is None else (*base, name)
        case _Index(obj=obj, index=index):
            base, key = _path(obj, scope), _key(index)
            return None if base is None or key is None else (*base, key)
        case _Slice(obj=obj):
            return _path(obj, scope)
        case _Call(name=name, args=args) if args and name in _PATH_CALLS:
            base = _path(args[0], scope)
            if base is None or name in _SAME_ITEMS:
                return base
            return (*base, LIST_ITEM)
        case _:
            return None


def _key(index: _Node) -> str | None:
    match index:
        case _Literal(value=str() as key):
            return key
        case _Literal(value=int() as number) if not isinstance(number, bool):
            return LIST_ITEM
        case _Unary(operator="-", operand=_Literal(value=int())):
            return LIST_ITEM
        case _:
            return None


def _index_parts(node: _Member | _Index | _Slice) -> tuple[_Node, ...]:
    if isinstance(node, _Index):
        return (node.index,)
    if isinstance(node, _Slice):
        return tuple(part for part in (node.start, node.end) if part is not None)
    return ()


def _chain_start(node: _Node) -> int:
    while isinstance(node, _Member | _Index | _Slice | _MethodCall):
        node = node.obj
    return node.pos


def _is_result(node: _Node) -> bool:
    return isinstance(node, _Name) and node.name == RESULT


def _did_you_mean(name: str, candidates: set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
