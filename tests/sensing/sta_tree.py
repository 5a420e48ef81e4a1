"""A station tree in SensorThings JSON, shared by the STA tests."""

from __future__ import annotations

from typing import Any

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def wind(thing: int, **rest: Any) -> dict[str, Any]:
    """A two-component MultiDatastream ("weather": speed in m/s, direction in degrees) of ``thing``;
    ``rest`` adds its Sensor, ObservedProperties, Observations."""
    return {
        "name": "weather",
        "description": "wind",
        "unitOfMeasurements": [
            {"name": "m/s", "symbol": "m/s", "definition": "ucum:m/s"},
            {"name": "degree", "symbol": "deg", "definition": "ucum:deg"},
        ],
        "multiObservationDataTypes": [MEASUREMENT, MEASUREMENT],
        "Thing": {"@iot.id": thing},
        **rest,
    }


def station(name: str, lon: float, lat: float, values: list[float], start_hour: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"trạm quan trắc {name}",
        "properties": {"river": "Vàm Cỏ Tây", "depth": 2},
        "Locations": [
            {
                "name": f"{name} site",
                "description": "river bank",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} salinity",
                "description": "salinity at 1 m",
                "unitOfMeasurement": {"name": "gram per litre", "symbol": "g/L", "definition": "ucum:g/L"},
                "observationType": MEASUREMENT,
                "Sensor": {
                    "name": "CTD probe",
                    "description": "conductivity, temperature, depth",
                    "encodingType": "text/html",
                    "metadata": "https://example.org/ctd",
                },
                "ObservedProperty": {
                    "name": "Salinity",
                    "definition": "http://vocab.nerc.ac.uk/collection/P07/current/CFSN0331/",
                    "description": "mass of salt per volume",
                },
                "Observations": [
                    {"phenomenonTime": f"2026-03-01T{start_hour + i:02d}:00:00Z", "result": v}
                    for i, v in enumerate(values)
                ],
            }
        ],
    }
