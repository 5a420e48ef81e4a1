"""A number answer to a category question must be a finite number: "NaN", "Infinity" and 1e999 are refused
with the question named, and nothing is stored (#21 finding 11, the case-answer part)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cityops.errors import Invalid
from cityops.reports.categories import validate_answers
from cityops.reports.models import Case
from cityops.specs import Datatype, QuestionSpec
from tests.reports.conftest import A_POINT, World, make_open311_key

NUMBER = [QuestionSpec("n", "n", Datatype.NUMBER).to_dict()]


@pytest.mark.parametrize(
    "value", ["NaN", "nan", "Infinity", "-inf", "1e999", float("nan"), float("inf"), 10**400, 2**53 + 2]
)
def test_non_finite_or_huge_numbers_are_refused(value: object) -> None:
    with pytest.raises(Invalid) as info:
        validate_answers(NUMBER, {"n": value})
    assert "finite number" in info.value.details["n"] or "between" in info.value.details["n"]


@pytest.mark.parametrize(
    ("value", "cleaned"), [("3", 3), ("2.5", 2.5), (7, 7), (-1.25, -1.25), (2**53, 2**53)]
)
def test_finite_numbers_pass(value: object, cleaned: object) -> None:
    assert validate_answers(NUMBER, {"n": value}) == {"n": cleaned}


def _raw_body(size: str) -> bytes:
    body = {
        "category": "roads",
        "description": "Ổ gà",
        "lat": A_POINT[0],
        "lon": A_POINT[1],
        "answers": {"road_damage": "pothole", "size_m": "SIZE"},
    }
    return json.dumps(body).replace('"SIZE"', size).encode()


@pytest.mark.parametrize("size", ["1e999", '"NaN"', '"Infinity"', "-1e999"])
def test_native_submission_refuses_them(world: World, client: TestClient, size: str) -> None:
    r = client.post("/api/v1/reports", content=_raw_body(size), headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert "size_m" in r.json()["error"]["details"]
    assert world.session.scalar(select(func.count()).select_from(Case)) == 0


@pytest.mark.parametrize("size", ["NaN", "1e999", "inf"])
def test_open311_submission_refuses_them(world: World, client: TestClient, size: str) -> None:
    key = make_open311_key(world.session)
    form = {
        "api_key": key,
        "service_code": "roads",
        "lat": str(A_POINT[0]),
        "long": str(A_POINT[1]),
        "description": "Ổ gà",
        "attribute[road_damage]": "crack",
        "attribute[size_m]": size,
    }
    r = client.post(
        "/open311/v2/requests.json",
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400, r.text
    assert "size_m" in r.text
    assert world.session.scalar(select(func.count()).select_from(Case)) == 0
