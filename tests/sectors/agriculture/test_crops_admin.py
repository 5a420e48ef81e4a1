"""Administrators edit crop tolerances: audited, validated, and the bulletins and gates follow."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.models import AuditEntry
from cityops.identity.models import Role, User
from cityops.sectors.agriculture.crops import CROPS, effective

BODY = {"caution_g_l": 1.5, "harm_g_l": 3.0, "source": "Sở NN&PTNT, công văn 123/SNN-TL (thử nghiệm)"}


def test_admin_edits_a_crop(
    client: TestClient,
    sessions: sessionmaker[Session],
    make_user: Callable[..., User],
    auth: Callable[[User], dict[str, str]],
) -> None:
    url = "/api/v1/agriculture/crops/rice"
    assert client.put(url, json=BODY).status_code == 401
    assert client.put(url, json=BODY, headers=auth(make_user(Role.OPERATOR))).status_code == 403
    admin = auth(make_user(Role.ADMIN))
    bad = client.put(url, json={**BODY, "caution_g_l": 3.5}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "caution_g_l"
    assert client.put(url, json={**BODY, "harm_g_l": -1}, headers=admin).status_code == 422
    missing = client.put("/api/v1/agriculture/crops/durian", json=BODY, headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_crop"
    with sessions() as s:
        assert effective(s)["rice"].harm_g_l == CROPS["rice"].harm_g_l == 4.0  # refusals changed nothing
    ok = client.put(url, json=BODY, headers=admin)
    assert ok.status_code == 200
    assert (ok.json()["caution_g_l"], ok.json()["harm_g_l"]) == (1.5, 3.0)
    listed = {c["code"]: c for c in client.get("/api/v1/agriculture/crops").json()}
    assert listed["rice"]["harm_g_l"] == 3.0
    assert listed["rice"]["source"].startswith("Sở NN&PTNT")
    assert listed["fruit"]["harm_g_l"] == 1.0  # the others as shipped
    with sessions() as s:
        assert effective(s)["rice"].harm_g_l == 3.0
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "agriculture.crop")).one()
        assert entry.before is not None
        assert entry.before["harm_g_l"] == 4.0
        assert entry.after is not None
        assert entry.after["harm_g_l"] == 3.0
    assert CROPS["rice"].harm_g_l == 4.0  # the shipped table is untouched
