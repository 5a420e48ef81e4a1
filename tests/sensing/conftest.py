"""Fixtures shared by the sensing tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cityops.identity.apikeys import create_api_key


@pytest.fixture
def key(sessions: sessionmaker[Session]) -> dict[str, str]:
    """Headers of a gateway's API key with the ingest scope."""
    with sessions() as s:
        _, secret = create_api_key(s, name="gateway", scopes=["ingest"])
        s.commit()
    return {"X-API-Key": secret}
