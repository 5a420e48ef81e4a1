"""The typed specs plugins return from the declaration hooks (``place_types``, ``indicators``, ...).

These are the contract between the core and the sectors: a sector builds these frozen dataclasses and returns
them; the capability that owns each concept validates and syncs them at start-up (a wrong declaration fails
there, naming the plugin). This module is kernel: it imports no capability, so a sector can depend on it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.events.bus import Event
    from cityops.settings import Settings


class SpecError(ValueError):
    """A plugin declared something invalid; the message names the plugin and the declaration."""


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


# ---------------------------------------------------------------------------------------------------------
# The IOC


@dataclass(frozen=True, slots=True)
class DashboardPanelSpec:
    """What a sector adds to the IOC wall (``dashboard_panels`` hook).

    ``kind`` says how the IOC draws it: ``indicator_tiles`` (the latest value of each indicator, with its
    target status), ``indicator_chart`` (their series), ``place_layer`` (places of ``place_types`` on the map,
    coloured by status), ``latest_values`` (the latest observations of ``property_codes``).
    """

    code: str
    title_vi: str
    title_en: str
    sector: str
    kind: Literal["indicator_tiles", "indicator_chart", "place_layer", "latest_values"]
    indicators: tuple[str, ...] = ()
    place_types: tuple[str, ...] = ()
    property_codes: tuple[str, ...] = ()
    order: int = 100


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
    when the account is deleted (returns the rows touched); ``purge`` applies retention: it removes personal
    data that became older than ``cutoff`` (``None`` when the capability keeps nothing past an account).
    """

    key: str
    description: str
    export: Callable[[Session, int], Any]
    erase: Callable[[Session, int], int]
    purge: Callable[[Session, datetime], int] | None = None
