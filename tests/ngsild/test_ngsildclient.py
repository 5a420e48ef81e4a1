"""The ``ngsildclient`` package, unmodified, over real HTTP against a served app: create, read, query,
count, batch upsert and delete — with an ingest API key (X-API-Key) for the writes."""

from __future__ import annotations

from pathlib import Path

import ngsildclient
import requests

from tests.conftest import Backend
from tests.kit.factories import Factory
from tests.ngsild.served import serve


class ApiKey(requests.auth.AuthBase):
    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-API-Key"] = self.key
        return r


def test_round_trip(backend: Backend, tmp_path: Path, factory: Factory) -> None:
    key = factory.api_key(["ingest"])
    with serve(backend.url, tmp_path / "data") as port:
        client = ngsildclient.Client(port=port, custom_auth=ApiKey(key), verbose=False)
        try:
            assert client.is_connected()
            e = ngsildclient.Entity("AirQualityObserved", "TayNinh:Obsv-1")
            e.prop("NO2", 22, unitcode="GP")
            e.prop("name", "Trạm Tây Ninh 1")
            e.gprop("location", (11.31, 106.10))
            assert client.create(e) is True
            got = client.get(e.id)
            assert got is not None
            assert got["NO2"]["value"] == 22
            assert got["name"]["value"] == "Trạm Tây Ninh 1"
            assert client.exists(e.id)

            more = []
            for n, no2 in enumerate([10, 50, 70], start=2):
                x = ngsildclient.Entity("AirQualityObserved", f"TayNinh:Obsv-{n}")
                x.prop("NO2", no2, unitcode="GP")
                more.append(x)
            result = client.upsert(*more)
            assert result  # a BatchResult with every id succeeded
            assert client.count(type="AirQualityObserved") == 4
            high = client.query(type="AirQualityObserved", q="NO2>30")
            assert sorted(x.id for x in high) == [
                "urn:ngsi-ld:AirQualityObserved:TayNinh:Obsv-3",
                "urn:ngsi-ld:AirQualityObserved:TayNinh:Obsv-4",
            ]

            e.prop("NO2", 23, unitcode="GP")
            assert client.entities.update(e)
            assert client.get(e.id)["NO2"]["value"] == 23

            assert client.delete(e)  # an Entity: a bare id string is taken as a batch by this client
            assert not client.exists(e.id)
            assert client.count(type="AirQualityObserved") == 3
        finally:
            client.close()
