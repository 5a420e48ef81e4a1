"""The typed specs plugins return from the declaration hooks (``place_types``, ``indicators``, ...).

These are the contract between the core and the sectors: a sector builds these frozen dataclasses and returns
them; the capability that owns each concept validates and syncs them at start-up (a wrong declaration fails
there, naming the plugin). This module is kernel: it imports no capability, so a sector can depend on it alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.events.bus import Event
    from cityops.settings import Settings


class SpecError(ValueError):
    """A plugin declared something invalid; the message names the plugin and the declaration."""


# ---------------------------------------------------------------------------------------------------------
# Cases: categories and their extra questions (``case_categories`` hook, synced by reports)


class Datatype(StrEnum):
    """Open311 attribute datatypes (``date`` is ours; Open311 calls it ``datetime``)."""

    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


@dataclass(frozen=True)
class QuestionSpec:
    """One extra question of a category.

    Each text is in one language, since a screen shows one: ``label`` and the ``values`` names are
    Vietnamese, ``label_en`` and ``values_en`` English (empty: screens fall back to the Vietnamese text).
    """

    code: str
    label: str
    datatype: Datatype
    required: bool = False
    description: str = ""
    values: tuple[tuple[str, str], ...] = ()  # (key, name in Vietnamese) for the list datatypes
    max_length: int = 500
    label_en: str = ""
    values_en: tuple[tuple[str, str], ...] = ()  # (key, name in English)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "datatype": self.datatype.value,
            "required": self.required,
            "description": self.description,
            "values": [list(v) for v in self.values],
            "max_length": self.max_length,
            "label_en": self.label_en,
            "values_en": [list(v) for v in self.values_en],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionSpec:
        return cls(
            code=data["code"],
            label=data["label"],
            datatype=Datatype(data["datatype"]),
            required=bool(data.get("required", False)),
            description=data.get("description", ""),
            values=tuple((str(k), str(n)) for k, n in data.get("values", [])),
            max_length=int(data.get("max_length", 500)),
            label_en=data.get("label_en", ""),
            values_en=tuple((str(k), str(n)) for k, n in data.get("values_en", [])),
        )


@dataclass(frozen=True)
class CategorySpec:
    """A case category as a sector declares it (``case_categories`` hook)."""

    code: str
    name_vi: str
    name_en: str
    sla_hours: float = 40.0  # working hours to resolve
    urgent: bool = False
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    questions: tuple[QuestionSpec, ...] = field(default_factory=tuple)
    sector: str = "core"
    order: int = 100
    # restricted: its cases are seen only by the agency holding them and the IOC operator (policy
    # ``case.view_restricted``), never on the public map, search, Open311 or open data (public order)
    restricted: bool = False


# ---------------------------------------------------------------------------------------------------------
# Sensing: observed properties (``observed_properties`` hook, synced by sensing)


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One observed property as the sectors declare it (``observed_properties`` hook).

    Sensing keeps one ``sta_observed_properties`` row per ``code``; ``valid_min``/``valid_max`` is the
    physically plausible range of the range check, not a regulatory limit.
    """

    code: str
    name_vi: str
    name_en: str
    definition: str
    unit_symbol: str  # UCUM code
    unit_name: str
    valid_min: float
    valid_max: float
    description: str = ""
    sector: str = "environment"

    def in_range(self, value: float) -> bool:
        return self.valid_min <= value <= self.valid_max

    @property
    def unit_of_measurement(self) -> dict[str, str]:
        """The SensorThings ``unitOfMeasurement`` object."""
        return {
            "name": self.unit_name,
            "symbol": self.unit_symbol,
            "definition": f"http://unitsofmeasure.org/ucum.html#{self.unit_symbol}",
        }


class StationModel(Protocol):
    """How a sector simulates one station's readings (a tidal river, a city's air, a road's traffic).

    ``value_of`` is a pure function of time and seed, so a replay gives the same series; None means the
    model does not simulate that property. The model object holds the station's own parameters.
    """

    def value_of(self, code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None: ...


@dataclass(frozen=True, slots=True)
class StationSpec:
    """A demo monitoring station a sector ships (``demo_stations`` hook): where it is, what it measures,
    and the model that simulates it (``cityops simulate``, the demo's history).

    ``kind`` is the station's kind (water, air, traffic); ``attributes`` are stored on its STA Thing
    (river, road, datum, alarm levels, ...).
    """

    code: str
    name: str
    kind: str
    lat: float
    lon: float
    properties: tuple[str, ...]
    model: StationModel
    interval_s: int = 300
    area_name: str | None = None  # the current commune/ward it lies in
    attributes: Mapping[str, Any] = field(default_factory=dict)
    approximate: bool = True  # coordinates and levels are demo values


# ---------------------------------------------------------------------------------------------------------
# Alerts: rule templates (``rule_templates`` hook, installed by alerts)


@dataclass(frozen=True, slots=True)
class RuleTemplate:
    """A default alert rule a sector declares, installed once as a rule keyed by ``code``.

    ``kind`` is the rule kind's value (``threshold``, ``rate_of_change``, ``staleness``): the kernel does not
    know the alerts capability's enum, so alerts validates it (and ``parameters``) at start-up.
    """

    code: str
    name_vi: str
    name_en: str
    kind: str
    property_code: str
    parameters: Mapping[str, Any]
    message_vi: str = ""
    message_en: str = ""
    enabled: bool = True
    sector: str = ""
    notes: str = field(default="", compare=False)


# ---------------------------------------------------------------------------------------------------------
# Places


class AttributeType(StrEnum):
    """Datatypes of a place type's attributes (validated by the places capability)."""

    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"
    URL = "url"
    PHONE = "phone"
    NUMBER_MAP = "number_map"  # a JSON object: keys among ``values`` keys, numbers within minimum/maximum


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One attribute of a place type. ``staff_only`` attributes never reach anonymous callers."""

    code: str
    name_vi: str
    name_en: str
    type: AttributeType = AttributeType.STRING
    required: bool = False
    staff_only: bool = False
    unit: str = ""  # UCUM code for numbers, "" when none
    values: tuple[tuple[str, str, str], ...] = ()  # (key, name_vi, name_en) for ENUM
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 500


@dataclass(frozen=True, slots=True)
class StatusSpec:
    """A status a place of a type can be in (a sluice open/closed, a camera online/offline)."""

    code: str
    name_vi: str
    name_en: str


GeometryKind = Literal["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"]


@dataclass(frozen=True, slots=True)
class PlaceTypeSpec:
    """A kind of place a sector adds (``place_types`` hook)."""

    code: str
    name_vi: str
    name_en: str
    sector: str
    icon: str = "place"  # an icon name the web bundles know (frontend/icons)
    visibility: Literal["public", "staff"] = "public"
    attributes: tuple[AttributeSpec, ...] = ()
    statuses: tuple[StatusSpec, ...] = ()  # empty: places of this type carry no status
    default_status: str = ""
    geometry: tuple[GeometryKind, ...] = ("Point",)
    description: str = ""


# ---------------------------------------------------------------------------------------------------------
# Indicators


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class IndicatorSource(StrEnum):
    """Where an indicator's values come from."""

    CASES = "cases"  # computed from cases (reports) and their timelines
    OBSERVATIONS = "observations"  # computed from observation roll-ups
    PLACES = "places"  # computed from the places registry
    PROGRAMMES = "programmes"  # computed from a programme's projects and disbursements (the scheme as data)
    DOSSIERS = "dossiers"  # computed from the administrative dossiers of the one-stop-shop system (#19)
    MANUAL = "manual"  # entered by hand (or imported) with its source document


@dataclass(frozen=True, slots=True)
class IndicatorSetSpec:
    """A published set of indicators (the national smart-city set, ISO 37122, the scheme's own)."""

    code: str
    name_vi: str
    name_en: str
    publisher: str = ""
    document: str = ""  # e.g. "Thông tư 03/2026/TT-BXD; TCVN 14506:2025"
    year: int | None = None
    url: str = ""


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """An indicator a plugin adds (``indicators`` hook).

    ``method`` names a calculator of the indicators capability for ``source`` (for example
    ``cases.on_time_rate`` or ``observations.days_above``) and ``params`` its arguments; MANUAL indicators have
    no method. ``sets`` places the indicator in published sets: ``(set code, the set's own number)``.
    """

    code: str
    name_vi: str
    name_en: str
    unit: str  # UCUM code ("%", "h", "d", "1", "{reports}/10.10*3{residents}", ...)
    direction: Literal["higher", "lower", "none"]
    period: Period
    source: IndicatorSource
    sector: str
    method: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    levels: tuple[str, ...] = ("province", "commune")  # area levels it rolls up to
    sets: tuple[tuple[str, str], ...] = ()
    description_vi: str = ""
    description_en: str = ""
    source_document: str = ""  # for MANUAL: the document values come from
    decimals: int = 1
    # How a coarser area's value is made from its communes': "sum" (counts), "ratio" (sum of numerators over
    # sum of denominators: rates and means), "per_capita" (sum of numerators over the area's population,
    # times params["per"]), "direct" (computed again over the whole area: medians, day counts).
    aggregation: Literal["sum", "ratio", "per_capita", "direct"] = "ratio"
    # Also keep one cell per agency (cases grouped by the agency holding them) beside the all-agencies cell;
    # its calculator must have ``by_agency``.
    by_agency: bool = False


@dataclass(frozen=True, slots=True)
class Measure:
    """One computed cell: the value and what it was made of, so coarser areas can be rolled up exactly."""

    value: float | None
    inputs: int  # facts counted (cases, observations, places, station-days)
    numerator: float | None = None
    denominator: float | None = None


# target area id -> the area ids whose facts count for it (its lineage predecessors, its communes); None: every
# fact wherever it lies (the top of the hierarchy, including facts with no area).
AreaGroups = Mapping[int, "frozenset[int] | None"]


@dataclass(frozen=True, slots=True)
class IndicatorCalculatorSpec:
    """A way of computing indicators from a capability's data (``indicator_calculators`` hook).

    ``compute(session, indicator, groups, start, end)`` returns a :class:`Measure` per key of ``groups``
    over the facts of ``[start, end)`` (aware UTC). ``touched(session, event)`` names the facts an event of
    one of ``subjects`` changed, as ``(area id or None, moment)`` pairs: the indicators capability marks
    the cells holding them stale and recomputes just those.
    """

    method: str
    source: IndicatorSource
    compute: Callable[[Session, IndicatorSpec, AreaGroups, datetime, datetime], Mapping[int, Measure]]
    subjects: tuple[str, ...] = ()
    touched: Callable[[Session, Event], list[tuple[int | None, datetime]]] | None = None
    description: str = ""
    # ``by_agency(session, indicator, groups, start, end)``: the same measures per (target, agency id), for
    # indicators declared ``by_agency`` (only agencies with facts; facts held by no agency count only in the
    # all-agencies cell).
    by_agency: (
        Callable[[Session, IndicatorSpec, AreaGroups, datetime, datetime], Mapping[tuple[int, int], Measure]]
        | None
    ) = None

    @property
    def code(self) -> str:
        """The method name, so two plugins declaring one method are refused."""
        return self.method


# ---------------------------------------------------------------------------------------------------------
# The IOC


@dataclass(frozen=True, slots=True)
class LegendEntry:
    """One class of a ``map_layer``: features whose style property equals ``value`` are drawn in ``colour``."""

    value: str
    colour: str  # "#rrggbb"
    label_vi: str
    label_en: str


_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True, slots=True)
class DashboardPanelSpec:
    """What a sector adds to the IOC wall (``dashboard_panels`` hook).

    ``kind`` says how the IOC draws it: ``indicator_tiles`` (the latest value of each indicator, with its
    target status), ``indicator_chart`` (their series), ``place_layer`` (places of ``place_types`` on the map,
    coloured by status), ``latest_values`` (the latest observations of ``property_codes``), ``map_layer``
    (a GeoJSON FeatureCollection the sector serves at ``layer_url``, a path of its own API: points, lines
    and polygons, each coloured by the ``legend`` entry matching its ``style_property``; the IOC fetches it
    with ``area_id=`` when drilled into an area, shows it when ``default_on``, refetches it every
    ``refresh_seconds`` (0: only on changes of scope) and lists it, with its legend, in the layer toggle).
    ``audience="staff"`` panels are listed only to signed-in staff; the sector's own endpoint must still
    check its caller.
    """

    code: str
    title_vi: str
    title_en: str
    sector: str
    kind: Literal["indicator_tiles", "indicator_chart", "place_layer", "latest_values", "map_layer"]
    indicators: tuple[str, ...] = ()
    place_types: tuple[str, ...] = ()
    property_codes: tuple[str, ...] = ()
    order: int = 100
    # for ``latest_values`` and the IOC station levels: (property code, warn at, bad at); a latest value at or
    # above "warn at" is "warn", at or above "bad at" is "bad" (the sector's scale, not the core's)
    thresholds: tuple[tuple[str, float, float], ...] = ()
    audience: Literal["public", "staff"] = "public"
    # ``map_layer`` only
    layer_url: str = ""
    style_property: str = ""
    legend: tuple[LegendEntry, ...] = ()
    default_on: bool = True
    refresh_seconds: int = 0

    def __post_init__(self) -> None:
        if self.audience not in ("public", "staff"):
            raise SpecError(f"panel {self.code}: audience must be 'public' or 'staff'")
        if self.kind != "map_layer":
            return
        if not self.layer_url.startswith("/api/") or "//" in self.layer_url or "?" in self.layer_url:
            raise SpecError(
                f"panel {self.code}: layer_url must be a path of cityops' API (/api/...), no query"
            )
        if self.refresh_seconds < 0 or 0 < self.refresh_seconds < 10:
            raise SpecError(f"panel {self.code}: refresh_seconds must be 0 or at least 10")
        if self.legend and not self.style_property:
            raise SpecError(f"panel {self.code}: a legend needs the style_property it reads")
        for entry in self.legend:
            if not isinstance(entry, LegendEntry) or not _COLOUR.match(entry.colour):
                raise SpecError(f"panel {self.code}: legend entries are LegendEntry with a #rrggbb colour")


# ---------------------------------------------------------------------------------------------------------
# Runtime: consumers and background tasks run by the events capability, personal data owned by capabilities


@dataclass(frozen=True, slots=True)
class EventConsumerSpec:
    """A durable consumer of a bus subject (``event_consumers`` hook).

    The events capability subscribes it at start-up and stops it at shutdown; ``handle`` runs in a worker
    thread, one event at a time, and must be idempotent (delivery is at least once). An exception leaves the
    event unacknowledged, so the bus delivers it again.
    """

    durable: str
    subject: str
    handle: Callable[[sessionmaker[Session], Event], object]
    description: str = ""


@dataclass(frozen=True, slots=True)
class BackgroundTaskSpec:
    """A periodic job run with the server (``background_tasks`` hook).

    ``run`` is called in a worker thread every ``interval_seconds`` (first after ``initial_delay_seconds``);
    an exception is logged and the next run goes on.
    """

    name: str
    interval_seconds: float
    run: Callable[[sessionmaker[Session], Settings], object]
    initial_delay_seconds: float = 0.0
    description: str = ""


@dataclass(frozen=True, slots=True)
class PersonalDataSpec:
    """The personal data a capability holds (``personal_data`` hook), so ``privacy/`` imports none of them.

    ``export`` returns the user's data as JSON-ready values under ``key``; ``erase`` removes or anonymises it
    when the account is deleted (returns the records touched, reported under ``erase_key``, default ``key``);
    ``purge`` applies retention: it removes personal data that became older than ``cutoff`` and returns the
    count per kind of record (``None`` when the capability keeps nothing past an account). Erasure runs in
    reverse registration order, like a teardown: a capability registered later may still need what an earlier
    one holds (notify finds a user's deliveries by the phone number identity erases last).
    """

    key: str
    description: str
    export: Callable[[Session, int], Any]
    erase: Callable[[Session, int], int]
    purge: Callable[[Session, datetime], Mapping[str, int]] | None = None
    erase_key: str = ""


# ---------------------------------------------------------------------------------------------------------
# Forecasting


FORECAST_METHODS = ("harmonic", "salinity", "profile", "weekly")


@dataclass(frozen=True, slots=True)
class ForecastTargetSpec:
    """A series a sector wants forecast (``forecast_targets`` hook), read by ``cityops/forecasting/``.

    ``station``/``property_code`` name the observed Datastream (the Thing's ``station_code`` and the
    observed property's code); ``method`` is ``harmonic`` (tidal harmonic analysis), ``salinity`` (tide
    harmonics plus a regression on lagged values, tide range, season and the ``upstream`` stations'
    same property), ``profile`` (diurnal and weekly profile plus recent values) or ``weekly`` (daily counts,
    weekly seasonality with the working calendar). ``leads_hours`` are the lead times published, each as
    one forecast Datastream; ``season_hours`` is the seasonal-naive baseline's period (24.84 for tides).
    """

    code: str
    station: str
    property_code: str
    method: Literal["harmonic", "salinity", "profile", "weekly"]
    leads_hours: tuple[int, ...]
    season_hours: float
    upstream: tuple[str, ...] = ()
    history_days: int = 60

    def __post_init__(self) -> None:
        if self.method not in FORECAST_METHODS:
            raise SpecError(f"forecast target {self.code}: method must be one of {FORECAST_METHODS}")
        if not self.leads_hours or any(h <= 0 for h in self.leads_hours):
            raise SpecError(f"forecast target {self.code}: leads_hours must be positive hours")
        if self.season_hours <= 0 or self.history_days < 7:
            raise SpecError(f"forecast target {self.code}: season_hours > 0 and history_days >= 7")
