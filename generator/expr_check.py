"""Check an Argo Rollouts successCondition/failureCondition before the controller compiles it.

Argo Rollouts (v1.9) compiles conditions with expr-lang/expr and gives them one variable, `result` (the
provider's data), and six functions of its own: asInt, asFloat, isNaN, isInf, isNil, default. A typo there
only shows up as a measurement Error during a rollout, so this module re-implements the part of expr's
grammar a condition uses (a tokenizer and a Pratt parser following expr's `parser.go` and operator table),
then checks the names: every variable must be `result` or a `let`/predicate binding, every function must
exist. It also lists the `result.<...>` paths the condition reads, so a caller can compare them with what
the query returns.

Columns are 1-based character offsets into the condition text: the column itself for a one-line
condition, which is what Argo Rollouts conditions normally are.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

# A path element meaning "every item of the list above", as in the predicate of all(result.a.values, {...}).
LIST_ITEM = "[]"

_ARGO_FUNCTIONS = {"asInt": 1, "asFloat": 1, "isNaN": 1, "isInf": 1, "isNil": 1, "default": 2}  # name: arity

_EXPR_BUILTINS = frozenset(
    # One word per builtin reads and diffs better than 71 quoted strings.
    "all any none one filter map count len sum mean median max min abs ceil floor round int float string "  # noqa: SIM905
    "trim upper lower split splitAfter join first last get keys values type toJSON fromJSON toPairs "
    "fromPairs now duration date timezone sort sortBy groupBy reduce find findIndex findLast findLastIndex "
    "concat flatten uniq reverse take hasPrefix hasSuffix indexOf lastIndexOf repeat replace trimPrefix "
    "trimSuffix toBase64 fromBase64 bitand bitor bitxor bitnand bitnot bitshl bitshr bitushr".split()
)

FUNCTIONS = _EXPR_BUILTINS | frozenset(_ARGO_FUNCTIONS)
"""Every function a condition may call: expr's builtins and Argo Rollouts' own."""

RESULT = "result"

# Builtins whose argument at a "predicate" position is a closure in which `#` / `.field` is the current
# item (expr `parser.go`, `predicates`). "?" marks an optional argument.
_PREDICATES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("all", "none", "any", "one", "filter", "map", "find", "findIndex", "findLast", "findLastIndex"),
        ("expr", "predicate"),
    ),
    "groupBy": ("expr", "predicate"),
    "count": ("expr", "predicate?"),
    "sum": ("expr", "predicate?"),
    "sortBy": ("expr", "predicate", "expr?"),
    "reduce": ("expr", "predicate", "expr?"),
}

# Binding strength of binary operators, higher binds tighter (expr's parser/operator/operator.go).
_COMPARISONS = ("==", "!=", "<", ">", ">=", "<=", "in", "matches", "contains", "startsWith", "endsWith")
_BINARY = {
    **{"|": 0, "or": 10, "||": 10, "and": 15, "&&": 15},
    **dict.fromkeys(_COMPARISONS, 20),
    **{"..": 25, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 100, "^": 100, "??": 500},
}
_RIGHT_ASSOCIATIVE = frozenset({"**", "^"})
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
_WORD_OPERATORS = frozenset({"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"})
_KEYWORDS = _WORD_OPERATORS | {"let", "if", "else"}
_CONSTANTS = {"true": True, "false": False, "nil": None}

_OPERATORS = sorted(
    ("??", "?.", "..", "**", "==", "!=", "<=", ">=", "&&", "||", "::", *"!<>+-*/%^?:.,#;=|"),
    key=len,
    reverse=True,
)
# expr's scanNumber: 0x/0o/0b prefixes, `_` separators, a fraction unless the dot starts a `..` range.
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9_]*(?:\.(?!\.)[0-9_]*)?(?:[eE][+-]?[0-9_]*)?"
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|[abfnrtv\\'\"]|.?)", re.S)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}

Path = tuple[str, ...]


@dataclass(frozen=True)
class ExprProblem:
    """One mistake in a condition; `column` is a 1-based character offset into the condition text."""

    message: str
    column: int


def check_condition(text: str) -> list[ExprProblem]:
    """Every problem in the condition, sorted by column: the first syntax error, else all name errors."""
    try:
        tree = _parse(text)
    except _SyntaxError as error:
        return [ExprProblem(error.message, error.pos + 1)]
    analysis = _Analysis()
    analysis.visit(tree, _Scope({}, None))
    return sorted(analysis.problems, key=lambda p: (p.column, p.message))


def result_paths(text: str) -> list[tuple[Path, int]]:
    """The `result` paths the condition reads, with the column where each chain starts.

    `result.service_apdex.values.values` gives ("service_apdex", "values", "values"); `.value` in the
    predicate of all(result.a.values, {...}) gives ("a", "values", "[]", "value"); an integer index gives
    "[]" and a string index its key. Only the longest chain is listed, not its prefixes; a condition with a
    syntax error reads nothing.
    """
    try:
        tree = _parse(text)
    except _SyntaxError:
        return []
    analysis = _Analysis()
    analysis.visit(tree, _Scope({}, None))
    # dict.fromkeys drops repeats: `a ?: b` holds the node `a` twice.
    return sorted(dict.fromkeys(analysis.paths), key=lambda p: p[1])


# --- tokens -----------------------------------------------------------------------------------------------


class _SyntaxError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, operator, bracket, eof
    text: str  # as written
    pos: int  # 0-based offset
    value: str | int | float | None = None  # numbers and strings, decoded


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        skipped = _skip_space_and_comments(text, i)
        if skipped != i:
            i = skipped
            continue
        token = _next_token(text, i)
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


def _next_token(text: str, i: int) -> _Token:
    char = text[i]
    if char.isdigit() or (char == "." and text[i + 1 : i + 2].isdigit()):
        return _number(text, i)
    if char in "\"'":
        return _quoted_string(text, i)
    if char == "`":
        end = text.find("`", i + 1)
        if end < 0:
            raise _SyntaxError("unterminated string: '`' without a closing '`'", i)
        return _Token("string", text[i : end + 1], i, text[i + 1 : end])
    if char.isalpha() or char in "_$":
        end = i
        while end < len(text) and (text[end].isalnum() or text[end] in "_$"):
            end += 1
        return _Token("name", text[i:end], i)
    if char in "()[]{}":
        return _Token("bracket", char, i)
    for operator in _OPERATORS:
        if text.startswith(operator, i):
            return _Token("operator", operator, i)
    hint = " (did you mean '&&'?)" if char == "&" else ""
    raise _SyntaxError(f"unexpected character {char!r}{hint}", i)


def _number(text: str, i: int) -> _Token:
    # Like expr, a number followed by a letter (`9900x`, `1.foo`) is one bad token, not two.
    match = _NUMBER.match(text, i)
    end = match.end() if match else i
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        raise _SyntaxError(f"bad number {text[i : end + 1]!r}", i)
    written = text[i:end]
    digits = written.replace("_", "")
    try:
        if digits[:2].lower() in ("0x", "0o", "0b"):
            value: int | float = int(digits, 0)
        elif any(c in digits for c in ".eE"):
            value = float(digits)
        else:
            value = int(digits, 10)
    except ValueError:
        raise _SyntaxError(f"bad number {written!r}", i) from None
    return _Token("number", written, i, value)


def _quoted_string(text: str, i: int) -> _Token:
    quote = text[i]
    end = i + 1
    while end < len(text) and text[end] != quote:
        if text[end] == "\n":
            break
        end += 2 if text[end] == "\\" else 1
    if end >= len(text) or text[end] != quote:
        raise _SyntaxError(f"unterminated string: {quote} without a closing {quote}", i)
    return _Token("string", text[i : end + 1], i, _unescape(text[i + 1 : end], i + 1))


def _unescape(body: str, pos: int) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if code in ("\\", "'", '"'):
            return code
        if code[:1] in ("x", "u", "U"):
            return chr(int(code[1:], 16))
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


@dataclass(frozen=True)
class _Index(_Node):
    obj: _Node
    index: _Node


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


# --- parser -----------------------------------------------------------------------------------------------


def _parse(text: str) -> _Node:
    return _Parser(_tokenize(text)).parse()


class _Parser:
    """Recursive descent with precedence climbing, shaped like expr's `parser.go` so it accepts the same."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
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
        node = self.expression(0)
        if self.at("bracket", ")", "]", "}"):
            self.fail(f"unbalanced '{self.tok.text}': nothing to close")
        if self.tok.kind != "eof":
            self.fail(f"unexpected {_describe(self.tok)} (missing operator?)")
        return node

    def expression(self, precedence: int) -> _Node:
        if precedence == 0 and self.at_word("let"):
            return self.let()
        if precedence == 0 and self.at_word("if"):
            return self.if_else()
        left = self.primary()
        previous = ""
        while (found := self.binary_operator(precedence)) is not None:
            token, operator = found
            if operator == "|":
                left = self.pipe(left)
            elif previous == "??" and operator != "??":
                self.fail(f"'{operator}' and '??' cannot be mixed: add parentheses", token)
            else:
                strength = _BINARY[operator.removeprefix("not ")]
                right = self.expression(strength if operator in _RIGHT_ASSOCIATIVE else strength + 1)
                left = _Binary(token.pos, operator, left, right)
            previous = operator
        return self.conditional(left) if precedence == 0 else left

    def binary_operator(self, precedence: int) -> tuple[_Token, str] | None:
        """Consume and return the binary operator at the cursor if it binds at least as tight as asked."""
        token = self.tok
        if self.at("operator", "="):
            self.fail("'=' is not a comparison: use '=='")
        if self.at_word("not"):
            kind, word = self.peek()
            if not (kind == "name" and word in _NEGATABLE):
                self.fail(
                    "'not' after a value must be followed by in, matches, contains, startsWith or endsWith"
                )
            if _BINARY[word] < precedence:
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
        if name.kind != "name" or name.text in _KEYWORDS or name.text in _CONSTANTS:
            self.fail(f"expected a variable name after 'let', found {_describe(name)}")
        self.advance()
        if not self.at("operator", "="):
            self.fail(f"expected '=' after 'let {name.text}'")
        self.advance()
        value = self.expression(0)
        if not self.at("operator", ";"):
            self.fail(f"expected ';' after the value of 'let {name.text}'")
        self.advance()
        return _Let(name.pos, name.text, value, self.expression(0))

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
        body = self.expression(0)
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
            inner = self.expression(0)
            self.close(token, ")")
            return self.postfix(inner)
        if self.at("operator", "#", "."):
            return self.pointer()
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
        if self.tok.kind == "name" and self.tok.pos == token.pos + 1:
            name = self.advance().text
            if name not in ("index", "acc"):
                self.fail(f"unknown pointer '#{name}': use #, #index or #acc", token)
        return self.postfix(_Pointer(token.pos, name))

    def secondary(self) -> _Node:
        token = self.tok
        node: _Node
        if token.kind in ("number", "string"):
            self.advance()
            node = _Literal(token.pos, token.value)
        elif token.kind == "name" and token.text not in _KEYWORDS:
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
                    node = self.index(node)
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
            return _Member(name.pos, node, name.text)
        opening = self.advance()
        return _MethodCall(name.pos, node, name.text, tuple(self.arguments(opening, [])))

    def index(self, node: _Node) -> _Node:
        opening = self.advance()
        start = None if self.at("operator", ":") else self.expression(0)
        if start is not None and not self.at("operator", ":"):
            self.close(opening, "]")
            return _Index(opening.pos, node, start)
        self.advance()  # the ':' of a slice
        end = None if self.at("bracket", "]") else self.expression(0)
        self.close(opening, "]")
        return _Slice(opening.pos, node, start, end)

    def call(self, name: _Token, piped: list[_Node]) -> _Node:
        opening = self.advance()  # callers checked it is '('
        kinds = _PREDICATES.get(name.text)
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
        if self.at("operator", ","):  # a trailing comma
            self.advance()
        self.close(opening, ")")
        return _Call(name.pos, name.text, tuple(args))

    def arguments(self, opening: _Token, args: list[_Node]) -> list[_Node]:
        first = len(args)
        while not self.at("bracket", ")"):
            if len(args) > first:
                self.comma(opening, ")")
                if self.at("bracket", ")"):  # a trailing comma
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
        body = self.expression(0)
        self.depth -= 1
        if braced:
            self.close(start, "}")
        return _Closure(start.pos, body)

    def pipe(self, left: _Node) -> _Node:
        name = self.tok
        if name.kind != "name" or name.text in _KEYWORDS:
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


# Calls whose value has the same items as their first argument, or is one of its items.
_SAME_ITEMS = frozenset({"filter", "sortBy", "sort", "reverse", "uniq", "take"})
_ONE_ITEM = frozenset({"first", "last", "find", "findLast"})
_PATH_CALLS = _SAME_ITEMS | _ONE_ITEM


class _Analysis:
    def __init__(self) -> None:
        self.problems: list[ExprProblem] = []
        self.paths: list[tuple[Path, int]] = []

    def visit(self, node: _Node, scope: _Scope, in_chain: bool = False) -> None:
        """Check names under `node`; `in_chain` means an enclosing member access already recorded its path."""
        match node:
            case _Name():
                self.check_name(node, scope)
            case _Member() | _Index() | _Slice():
                in_chain = in_chain or self.record(node, scope)
                self.visit(node.obj, scope, in_chain)
                for part in _index_parts(node):
                    self.visit(part, scope)
            case _MethodCall():
                self.problem(
                    node, f"'{node.name}()' is called as a method, but result holds plain JSON values"
                )
                self.visit(node.obj, scope)
                for arg in node.args:
                    self.visit(arg, scope)
            case _Call():
                self.check_call(node, scope)
            case _Let():
                self.visit(node.value, scope)
                variables = {**scope.variables, node.name: _path(node.value, scope)}
                self.visit(node.body, _Scope(variables, scope.item))
            case _:
                for child in _children(node):
                    self.visit(child, scope)

    def check_name(self, node: _Name, scope: _Scope) -> None:
        if node.name in scope.variables or node.name in (RESULT, "$env") or node.name in FUNCTIONS:
            return
        message = f"unknown variable '{node.name}': Argo Rollouts only provides '{RESULT}'"
        self.problem(node, message + _did_you_mean(node.name, {RESULT, *scope.variables}))

    def check_call(self, node: _Call, scope: _Scope) -> None:
        if node.name in scope.variables or node.name == RESULT:
            self.problem(node, f"'{node.name}' is not a function")
        elif node.name not in FUNCTIONS:
            self.problem(node, f"unknown function '{node.name}'" + _did_you_mean(node.name, FUNCTIONS))
        else:
            self.check_argo_function(node)
        item = None
        if node.name in _PREDICATES and node.args:
            collection = _path(node.args[0], scope)
            item = None if collection is None else (*collection, LIST_ITEM)
        for arg in node.args:
            if isinstance(arg, _Closure):
                self.visit(arg.body, _Scope(scope.variables, item))
            else:
                self.visit(arg, scope)

    def check_argo_function(self, node: _Call) -> None:
        arity = _ARGO_FUNCTIONS.get(node.name)
        if arity is not None and len(node.args) != arity:
            plural = "" if arity == 1 else "s"
            self.problem(node, f"{node.name}() takes {arity} argument{plural}, got {len(node.args)}")
        elif node.name in ("isNil", "default") and not _is_result(node.args[0]):
            # Argo Rollouts' isNil(x) and default(x, d) ignore x: they test the whole result.
            what = (
                "is true only when result itself is nil" if node.name == "isNil" else "returns result itself"
            )
            self.problem(
                node, f"{node.name}() ignores its first argument and {what} (compare with nil instead)"
            )

    def record(self, node: _Node, scope: _Scope) -> bool:
        """Note the result path `node` reads; True if it has one (so its inner chain is not listed again)."""
        path = _path(node, scope)
        if path is None:
            return False
        if path:
            self.paths.append((path, _chain_start(node) + 1))
        return True

    def problem(self, node: _Node, message: str) -> None:
        self.problems.append(ExprProblem(message, node.pos + 1))


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
