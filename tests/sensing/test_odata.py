"""The OData parser: precedence, literals, functions and errors (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.sensing.odata import (
    BinOp,
    Call,
    ListExpr,
    Literal,
    ODataError,
    Path,
    Unary,
    parse_expand,
    parse_filter,
    parse_options,
    parse_orderby,
)


def test_precedence_follows_odata() -> None:
    node = parse_filter("a eq 1 or b gt 2 add 3 mul 4 and not c")
    assert node == BinOp(
        "or",
        BinOp("eq", Path(("a",)), Literal(1, "number")),
        BinOp(
            "and",
            BinOp(
                "gt",
                Path(("b",)),
                BinOp("add", Literal(2, "number"), BinOp("mul", Literal(3, "number"), Literal(4, "number"))),
            ),
            Unary("not", Path(("c",))),
        ),
    )


def test_literals() -> None:
    node = parse_filter("phenomenonTime ge 2026-03-01T07:00:00+07:00")
    assert isinstance(node, BinOp)
    assert node.right == Literal(datetime(2026, 3, 1, tzinfo=UTC), "datetime")
    assert parse_filter("name eq 'it''s'") == BinOp("eq", Path(("name",)), Literal("it's", "string"))
    dur = parse_filter("duration'P1DT2H'")
    assert dur == Literal(timedelta(days=1, hours=2), "duration")
    assert parse_filter("x eq -1.5e2") == BinOp("eq", Path(("x",)), Literal(-150.0, "number"))
    geo = parse_filter("st_within(location, geography'POLYGON((0 0, 1 0, 1 1, 0 0))')")
    assert isinstance(geo, Call)
    assert geo.name == "st_within"
    assert parse_filter("Datastream/Thing/properties/owner eq null") == BinOp(
        "eq", Path(("Datastream", "Thing", "properties", "owner")), Literal(None, "null")
    )


def test_in_operator_and_date_time_offsets() -> None:
    """``in`` (OData 4.01) binds like a relational operator and takes a parenthesised list."""
    node = parse_filter("id in (1, 2) and name in ('a')")
    assert node == BinOp(
        "and",
        BinOp("in", Path(("id",)), ListExpr((Literal(1, "number"), Literal(2, "number")))),
        BinOp("in", Path(("name",)), ListExpr((Literal("a", "string"),))),
    )
    one = ListExpr((Literal(1, "number"),))
    assert parse_filter("not (id in (1))") == Unary("not", BinOp("in", Path(("id",)), one))
    assert parse_filter("not id in (1)") == BinOp(
        "in", Unary("not", Path(("id",))), one
    )  # unary binds tighter
    lit = parse_filter("x eq 2026-03-01T07:00:00+07:00")
    assert isinstance(lit, BinOp)
    assert isinstance(lit.right, Literal)
    assert lit.right.offset_minutes == 420
    lit = parse_filter("x eq 2026-03-01T07:00:00-0530")
    assert isinstance(lit, BinOp)
    assert isinstance(lit.right, Literal)
    assert lit.right.offset_minutes == -330
    with pytest.raises(ODataError, match="parenthesised list"):
        parse_filter("id in 1")
    with pytest.raises(ODataError, match="expected ',' or '\\)' in the 'in' list"):
        parse_filter("id in (1 2)")
    with pytest.raises(ODataError, match="missing its left operand"):
        parse_filter("in (1)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name eq", "end of expression"),
        ("(name eq 'a'", "expected '.' but the expression ended"),
        ("name eq 'a' 'b'", "unexpected"),
        ("frobnicate(name)", "unknown function"),
        ("substring(name)", "takes 2 to 3"),
        ("eq 1", "missing its left operand"),
        ("time eq 2026-13-01T00:00:00Z", "invalid date-time"),
        ("x eq 2026-01-01T00:00:00", "unexpected"),
        ("x eq duration'P'", "invalid duration"),
        ("x eq geography'POLYGON((0 0'", "invalid WKT"),
        ("name eq #", "unexpected character"),
        ("(" * 500 + "a eq 1" + ")" * 500, "nests deeper"),
        ("not " * 500 + "a", "nests deeper"),
        ("a eq 1 and " * 3000 + "a eq 1", "longer than"),
        ("a eq 1 or " * 200 + "a eq 1", "more than 300 operators"),
    ],
)
def test_bad_filters(text: str, message: str) -> None:
    with pytest.raises(ODataError, match=message):
        parse_filter(text)


def test_orderby_expand_and_options() -> None:
    items = parse_orderby("phenomenonTime desc, result")
    assert [(i.expr, i.descending) for i in items] == [
        (Path(("phenomenonTime",)), True),
        (Path(("result",)), False),
    ]
    expand = parse_expand(
        "Datastreams($top=2;$expand=Observations($filter=result gt 1;$orderby=id desc)),Locations"
    )
    assert [e.path for e in expand] == [("Datastreams",), ("Locations",)]
    inner = expand[0].options.expand[0]
    assert inner.path == ("Observations",)
    assert inner.options.filter == BinOp("gt", Path(("result",)), Literal(1, "number"))
    assert expand[0].options.top == 2
    nested = parse_expand("Datastreams/Observations,Datastreams/Sensor")
    assert len(nested) == 1
    assert {e.path[0] for e in nested[0].options.expand} == {"Observations", "Sensor"}
    with pytest.raises(ODataError, match="non-negative integer"):
        parse_options({"$top": "-1"})
    with pytest.raises(ODataError, match="unknown or misplaced"):
        parse_options({"$frobnicate": "1"})
    with pytest.raises(ODataError, match="unbalanced"):
        parse_expand("Datastreams($top=1")
    with pytest.raises(ODataError, match="invalid option"):
        parse_expand("Datastreams(top=1)")
    deep = "Sensor"
    for _ in range(5):
        deep = f"Datastreams($expand=Thing($expand={deep}))"
    with pytest.raises(ODataError, match="nests deeper"):
        parse_expand(deep)
    with pytest.raises(ODataError, match="nests deeper"):
        parse_expand("/".join(["Datastreams", "Thing"] * 6))
    assert parse_expand("Datastreams/Thing/Locations")[0].options.expand[0].options.expand[0].path == (
        "Locations",
    )
