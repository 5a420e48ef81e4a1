"""What an Observation's result may be, and how a second value for a stored time is answered (#21).

Checked at every entry — STA POST and deep insert, ``CreateObservations``, MQTT (STA topics and device
telemetry) — before anything is stored, so every path refuses the same input:

* the result must fit the Datastream's ``observationType`` (O&M 2.0, OGC 18-088 Table 12):
  ``OM_Measurement`` a finite number, ``OM_CountObservation`` an integer, ``OM_TruthObservation`` a boolean,
  ``OM_CategoryObservation`` a string; other types (``OM_Observation``, ``OM_ComplexObservation``) any JSON;
* no result holds NaN or an infinite number anywhere (JSON has neither: 1e999 parses as infinity and was
  stored as null);
* a Datastream holds one value per ``phenomenonTime``. Sending the same value again is a retry and answers as
  the first time (the stored Observation); a *different* value for a stored time is a conflict (HTTP 409,
  MQTT refused), never silently dropped. Correcting a stored value is a PATCH of that Observation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import ApiError
from cityops.sensing.ingest.batch import join_result
from cityops.sensing.models import Observation

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
MEASUREMENT = OM + "OM_Measurement"
COUNT = OM + "OM_CountObservation"
TRUTH = OM + "OM_TruthObservation"
CATEGORY = OM + "OM_CategoryObservation"


def result_error(observation_type: str | None, result: Any) -> str | None:
    """Why ``result`` cannot be the result of an Observation of ``observation_type``; None if it can."""
    if not _finite(result):
        return "a result must not hold NaN or an infinite number"
    kind = (observation_type or "").rsplit("/", 1)[-1]
    number = isinstance(result, int | float) and not isinstance(result, bool)
    if kind == "OM_Measurement" and not number:
        return f"the Datastream's observationType is OM_Measurement: the result must be a number, not {_what(result)}"
    if kind == "OM_CountObservation" and not (number and float(result).is_integer()):
        return f"the Datastream's observationType is OM_CountObservation: the result must be an integer, not {_what(result)}"
    if kind == "OM_TruthObservation" and not isinstance(result, bool):
        return f"the Datastream's observationType is OM_TruthObservation: the result must be true or false, not {_what(result)}"
    if kind == "OM_CategoryObservation" and not isinstance(result, str):
        return f"the Datastream's observationType is OM_CategoryObservation: the result must be a string, not {_what(result)}"
    return None


def check_result(observation_type: str | None, result: Any, where: str = "") -> None:
    """:func:`result_error` as a 400 (``where`` names the row of a batch)."""
    error = result_error(observation_type, result)
    if error is not None:
        raise ApiError(400, f"{where}{error}", code="bad_request")


def conflicts(
    session: Session, results: Sequence[Any], ids: Sequence[int], duplicates: Sequence[int]
) -> list[int]:
    """The indexes among ``duplicates`` (rows not stored because their time was) whose ``results`` differ
    from the value stored (Observation ``ids[i]``): one query."""
    if not duplicates:
        return []
    wanted = {ids[i] for i in duplicates}
    stored = {
        oid: join_result(number, other)
        for oid, number, other in session.execute(
            select(Observation.id, Observation.result_number, Observation.result_json).where(
                Observation.id.in_(wanted)
            )
        )
    }
    return [i for i in duplicates if not _same(stored.get(ids[i]), results[i])]


def conflict_error(rows: Sequence[int] | None = None) -> ApiError:
    """409 for a different value at a stored ``phenomenonTime`` (``rows``: their indexes in a batch)."""
    which = f"rows {', '.join(map(str, rows[:20]))}: " if rows else ""
    return ApiError(
        409,
        f"{which}another value is stored for this Datastream and phenomenonTime; PATCH that Observation "
        "to correct it",
        code="conflict",
    )


def _same(stored: Any, sent: Any) -> bool:
    if isinstance(stored, int | float) and not isinstance(stored, bool):
        return isinstance(sent, int | float) and not isinstance(sent, bool) and float(stored) == float(sent)
    return bool(stored == sent)


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


def _what(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a number"
