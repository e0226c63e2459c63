"""The one emitter: settings pinned, ambiguous strings quoted, multi-line strings as literal blocks."""

import yaml

from generator.yamlio import dump_manifest, load_text, parse_documents, position


def test_emitter_settings_are_pinned() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"list": ["a", "b"]}}
    assert dump_manifest(obj) == (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  list:\n  - a\n  - b\n"
    )


def test_strings_a_yaml_reader_would_not_read_back_as_strings_are_quoted() -> None:
    ambiguous = [
        "yes",
        "on",
        "NO",
        "off",
        "true",
        "null",
        "~",
        "0123",
        "0o17",
        "0x1F",
        "1e3",
        "1:20",
        ".inf",
        "12",
        "3.5",
        "",
    ]
    text = dump_manifest({"values": ambiguous})
    for value in ambiguous:
        assert f"- {value}\n" not in text or value == "", value
    # YAML 1.1 (Kubernetes) reads every one of them back as the same string.
    assert yaml.safe_load(text) == {"values": ambiguous}


def test_plain_strings_stay_plain() -> None:
    assert (
        dump_manifest({"a": "canary|reviews|bookinfo|cp-cluster-1|-"})
        == "a: canary|reviews|bookinfo|cp-cluster-1|-\n"
    )


def test_multiline_strings_are_literal_blocks() -> None:
    text = dump_manifest({"query": "query q {\n  a\n}\n"})
    assert text == "query: |\n  query q {\n    a\n  }\n"
    assert parse_documents(text) == [{"query": "query q {\n  a\n}\n"}]


def test_long_lines_are_not_folded() -> None:
    long = "x" * 500 + " " + "y" * 500
    assert dump_manifest({"a": long}) == f"a: {long}\n"


def test_positions_are_one_based_value_or_key() -> None:
    node = load_text("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert position(node, ("a", "c")) == (3, 6)
    assert position(node, ("a", "c"), at_key=True) == (3, 3)
    assert position(node, ("a", "b", 1)) == (2, 10)
    assert position(node, ("a", "missing")) == (1, 1)
    assert position(node, ("nope",)) is None


def test_lazy_node_parses_only_when_a_position_is_asked_for() -> None:
    from generator.yamlio import LazyNode

    lazy = LazyNode("a:\n  b: [1, 2]\n")
    # nothing parsed is kept, now or later: its only state is the text and which document
    assert not hasattr(lazy, "__dict__")
    assert set(LazyNode.__slots__) == {"text", "document", "prefix", "_start"}
    assert position(lazy, ("a", "b", 1)) == (2, 10)
    assert position(lazy, ("a", "b"), at_key=True) == (2, 3)
    assert lazy.start_mark.line == 0


def test_the_c_path_resolves_plain_scalars_with_ruamels_yaml_1_2_table() -> None:
    import re

    from ruamel.yaml.resolver import implicit_resolvers

    from generator.yamlio import RESOLVERS_1_2

    def squeezed(pattern: str) -> str:
        return re.sub(r"\s+", "", pattern)

    theirs = [
        (tag, squeezed(regexp.pattern), "".join(c for c in first if c))
        for versions, tag, regexp, first in implicit_resolvers
        if (1, 2) in versions and tag != "tag:yaml.org,2002:yaml"  # documentation only, never matches
    ]
    ours = [(tag, squeezed(regexp.pattern), first) for tag, regexp, first in RESOLVERS_1_2]
    assert ours == theirs


def test_the_c_path_gives_values_and_positions_as_ruamel_does() -> None:
    from generator.yamlio import load_source_text, to_plain

    text = "a:\n  b: [1, 2]\n  c: x\nd:\ne: yes\nf: 0123\ng: 0o17\nh: 1e3\n"
    data, node = load_source_text(text, "f.yaml")
    assert data == to_plain(load_text(text, "f.yaml"))
    assert data["e"] == "yes" and data["f"] == 123 and data["g"] == 15 and data["h"] == 1000.0
    assert position(node, ("a", "c")) == (3, 6)
    assert position(node, ("a", "c"), at_key=True) == (3, 3)
    assert position(node, ("a", "b", 1)) == (2, 10)
    assert position(node, ("d",)) == (5, 1)  # an empty value is where ruamel puts it: the next token
    assert position(node, ("nope",)) is None
