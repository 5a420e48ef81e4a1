"""VN_WQI per water station: the latest laboratory sample joined with the station's probes.

The laboratory parameters (BOD5, COD, N-NH4, N-NO3, N-NO2, P-PO4, Coliform, E. coli) are observations on the
station's *lab* datastreams (one per parameter, created on first use, ``properties.lab_sample``), entered from
sample results through SensorThings like any observation. A station's sample is its lab results of the last
:data:`SAMPLE_WINDOW` before the requested time; its time is the latest of them. pH, DO and the water
temperature DO needs come from the station's probes: their hourly mean of the sample's hour, else their
latest value at or before it. The index itself is :func:`cityops.sectors.environment.wqi.vn_wqi`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sectors.environment.properties import BY_CODE
from cityops.sectors.environment.wqi import Param, WqiResult, vn_wqi
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, Observation, ObservationRollup, ObservedProperty, Sensor, Thing
from cityops.sensing.stations import OM_MEASUREMENT, observed_property

SAMPLE_WINDOW = timedelta(days=45)
LAB_PARAMS: dict[str, Param] = {
    "bod5": Param.BOD5,
    "cod": Param.COD,
    "n_nh4": Param.NH4,
    "n_no3": Param.NO3,
    "n_no2": Param.NO2,
    "p_po4": Param.PO4,
    "coliform": Param.COLIFORM,
    "e_coli": Param.ECOLI,
}
PROBES = ("ph", "dissolved_oxygen", "water_temperature")
LAB_INTERVAL_S = 31 * 86400  # a monthly sampling round: later than that, the lab datastream is overdue


def _streams(session: Session, thing_ids: Sequence[int]) -> dict[int, dict[str, Datastream]]:
    """Datastreams per Thing by observed-property code (two statements)."""
    codes = {
        op.id: str((op.properties or {}).get("code"))
        for op in session.scalars(select(ObservedProperty)).all()
        if (op.properties or {}).get("code")
    }
    out: dict[int, dict[str, Datastream]] = {t: {} for t in thing_ids}
    for ds in session.scalars(select(Datastream).where(Datastream.thing_id.in_(thing_ids))):
        code = codes.get(ds.observed_property_id)
        if code:
            out[ds.thing_id][code] = ds
    return out


def lab_datastream(session: Session, thing_id: int, code: str) -> Datastream:
    """The station's lab datastream of ``code`` (created on first use)."""
    if code not in LAB_PARAMS:
        raise ValueError(f"{code} is not a laboratory parameter of VN_WQI")
    existing = _streams(session, [thing_id])[thing_id].get(code)
    if existing is not None:
        return existing
    thing = session.get(Thing, thing_id)
    if thing is None:
        raise ValueError(f"Thing {thing_id} does not exist")
    op, _ = observed_property(session, code, {})
    sensor = Sensor(
        name="Phân tích phòng thí nghiệm / Laboratory analysis",
        description="Results of water samples analysed in a laboratory",
        encoding_type="text/html",
        sensor_metadata="https://cem.gov.vn",
    )
    session.add(sensor)
    session.flush()
    spec = BY_CODE[code]
    ds = Datastream(
        name=f"{thing.name} – {spec.name_vi} (mẫu phòng thí nghiệm)",
        description=f"{spec.name_en}, laboratory samples",
        unit_of_measurement=spec.unit_of_measurement,
        observation_type=OM_MEASUREMENT,
        properties={"property_code": code, "lab_sample": True, "expected_interval_s": LAB_INTERVAL_S},
        thing_id=thing_id,
        sensor_id=sensor.id,
        observed_property_id=op.id,
    )
    session.add(ds)
    session.flush()
    return ds


def record_sample(session: Session, thing_id: int, when: datetime, values: dict[str, float]) -> int:
    """Store one water sample's lab results (``values`` by parameter code); returns the rows stored."""
    rows = [
        ObservationIn(
            datastream_id=lab_datastream(session, thing_id, code).id, phenomenon_time=when, result=v
        )
        for code, v in values.items()
    ]
    return ingest_observations(session, rows).inserted


@dataclass(frozen=True, slots=True)
class StationWqi:
    """A station's VN_WQI with the sample it came from."""

    thing_id: int
    result: WqiResult
    sample_time: datetime | None = None
    values: dict[str, float] = field(default_factory=dict)


def stations_wqi(session: Session, thing_ids: Sequence[int], at: datetime) -> dict[int, StationWqi]:
    """VN_WQI of each station at ``at`` (a constant number of statements whatever the number of stations)."""
    streams = _streams(session, thing_ids)
    lab_ids = {ds.id: (t, code) for t, s in streams.items() for code, ds in s.items() if code in LAB_PARAMS}
    latest: dict[tuple[int, str], tuple[datetime, float]] = {}
    if lab_ids:
        rows = session.execute(
            select(Observation.datastream_id, Observation.phenomenon_time, Observation.result_number)
            .where(
                Observation.datastream_id.in_(lab_ids),
                Observation.phenomenon_time > at - SAMPLE_WINDOW,
                Observation.phenomenon_time <= at,
            )
            .order_by(Observation.phenomenon_time)
        ).all()
        for ds_id, when, value in rows:
            if value is not None and ds_id is not None and when is not None:
                latest[lab_ids[ds_id]] = (when, float(value))  # ordered: the last one wins
    samples: dict[int, datetime] = {}
    for (thing_id, _code), (taken, _v) in latest.items():
        samples[thing_id] = max(samples.get(thing_id, taken), taken)
    probes = _probe_values(session, streams, samples)
    out: dict[int, StationWqi] = {}
    for thing_id in thing_ids:
        sampled = samples.get(thing_id)
        if sampled is None:
            out[thing_id] = StationWqi(thing_id, WqiResult(None, reason="no laboratory sample"))
            continue
        values = {code: v for (t, code), (_w, v) in latest.items() if t == thing_id}
        values |= {code: v for code, v in probes.get(thing_id, {}).items() if code != "water_temperature"}
        temperature = probes.get(thing_id, {}).get("water_temperature")
        inputs: dict[Param | str, float | None] = {
            (LAB_PARAMS.get(code) or {"ph": Param.PH, "dissolved_oxygen": Param.DO}[code]): v
            for code, v in values.items()
        }
        result = vn_wqi(inputs, temperature_c=temperature)
        shown = values | ({"water_temperature": temperature} if temperature is not None else {})
        out[thing_id] = StationWqi(thing_id, result, sampled, shown)
    return out


def _probe_values(
    session: Session, streams: dict[int, dict[str, Datastream]], samples: dict[int, datetime]
) -> dict[int, dict[str, float]]:
    """pH, DO and water temperature at each sample: the hour's mean, else the latest value before it."""
    wanted = {
        streams[t][code].id: (t, code, when.replace(minute=0, second=0, microsecond=0))
        for t, when in samples.items()
        for code in PROBES
        if code in streams[t]
    }
    out: dict[int, dict[str, float]] = {}
    if not wanted:
        return out
    hours = {h for _t, _c, h in wanted.values()}
    rollups = session.scalars(
        select(ObservationRollup).where(
            ObservationRollup.datastream_id.in_(wanted),
            ObservationRollup.interval == "hour",
            ObservationRollup.bucket_start.in_(hours),
        )
    ).all()
    for r in rollups:
        thing_id, code, hour = wanted[r.datastream_id]
        if r.bucket_start == hour and r.count:
            out.setdefault(thing_id, {})[code] = r.sum / r.count
    for thing_id, code, hour in wanted.values():
        if code in out.get(thing_id, {}):
            continue
        ds = streams[thing_id][code]
        last = ds.last_phenomenon_time
        if ds.last_value is not None and last is not None and last <= hour + timedelta(hours=1):
            out.setdefault(thing_id, {})[code] = float(ds.last_value)
    return out
