"""Importing places of one type from GeoJSON or CSV, idempotent on the external id.

Each row is checked on its own: a bad row is reported with every reason and changes nothing, the good rows
are created or updated (or counted unchanged) in the caller's transaction; ``dry_run`` only reports. A row
needs an external id (``id``/``external_id``/``ma``/``code``, or the GeoJSON feature ``id``): without one a
second import could not find it again. Properties or columns that are neither a place field nor one of the
type's attributes are ignored and listed in the report.

* GeoJSON: a FeatureCollection (or one Feature); coordinates in WGS 84, or in the CRS of ``crs`` / the file's
  ``crs`` member (VN-2000 forms, as ``cityops areas import`` accepts).
* CSV (UTF-8, with or without BOM; ``,`` or ``;``): WGS 84 point columns named ``lat``/``latitude``/``vi_do``
  and ``lon``/``lng``/``longitude``/``kinh_do``; text values are converted by each attribute's type.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.boundaries import declared_crs
from cityops.errors import ApiError
from cityops.places import service
from cityops.places.geometry import point
from cityops.places.models import Place, PlaceType
from cityops.places.types import attribute_specs, get_type
from cityops.text import nfc

MAX_ROWS = 50_000  # one import's rows (a province's schools or gates are hundreds)
LAT_COLUMNS = ("lat", "latitude", "vi_do", "vido", "y")
LON_COLUMNS = ("lon", "lng", "long", "longitude", "kinh_do", "kinhdo", "x")
ID_COLUMNS = ("external_id", "id", "ma", "code")
NAME_COLUMNS = ("name", "ten", "name_vi")
DIRECT = ("status", "valid_from", "valid_to")
# Properties that describe the row, not the place (the demo files carry them): ignored without a warning.
QUIET = {"demo", "source", "source_note", "note", "ghi_chu"}


class PlaceImportError(ValueError):
    """The file as a whole cannot be read (not GeoJSON/CSV, no coordinate columns, too many rows)."""


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    type_code: str
    source_name: str
    dry_run: bool
    created: list[tuple[str, int | None]] = field(default_factory=list)  # (row label, place id)
    updated: list[tuple[str, int]] = field(default_factory=list)
    unchanged: list[tuple[str, int]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (row label, every reason)
    ignored: list[str] = field(default_factory=list)  # properties / columns not used

    @property
    def rows(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged) + len(self.rejected)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        return (
            f"{self.rows} row(s) of type {self.type_code} from {self.source_name}: {len(self.created)} {verb} "
            f"created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.rejected)} rejected"
        )


@dataclass(frozen=True)
class _Row:
    label: str
    external_id: str | None
    fields: dict[str, Any]


def _lower(props: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in props.items()}


def _pick(props: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = props.get(name)
        if value is not None and str(value).strip():
            return value
    return None


def _split(props: dict[str, Any], attr_codes: set[str], ignored: set[str], skip: set[str]) -> dict[str, Any]:
    """Place fields from a row's properties: name, status, validity, and the type's attributes."""
    fields: dict[str, Any] = {"attributes": {}}
    name = _pick(props, NAME_COLUMNS)
    fields["name"] = nfc(str(name)) if name is not None else ""
    for key in DIRECT:
        value = props.get(key)
        if value is not None and str(value).strip():
            fields[key] = nfc(str(value)) if isinstance(value, str) else value
    for key, value in props.items():
        if key in attr_codes:
            fields["attributes"][key] = value
        elif key not in skip and key not in DIRECT and key not in QUIET:
            ignored.add(key)
    return fields


def _geojson_rows(data: Any, attr_codes: set[str], ignored: set[str]) -> Iterator[_Row]:
    if not isinstance(data, Mapping) or data.get("type") not in ("FeatureCollection", "Feature"):
        raise PlaceImportError("Expected a GeoJSON FeatureCollection (or one Feature)")
    features = [data] if data["type"] == "Feature" else data.get("features")
    if not isinstance(features, list):
        raise PlaceImportError("The FeatureCollection has no features list")
    if len(features) > MAX_ROWS:
        raise PlaceImportError(f"{len(features)} features: at most {MAX_ROWS} per import")
    skip = set(NAME_COLUMNS) | set(ID_COLUMNS)
    for index, feature in enumerate(features):
        if not isinstance(feature, Mapping):
            yield _Row(f"feature {index}", None, {"geometry": None})
            continue
        props = _lower(feature.get("properties") or {})
        ext = _pick(props, ID_COLUMNS)
        if ext is None:
            ext = feature.get("id")
        fields = _split(props, attr_codes, ignored, skip)
        fields["geometry"] = feature.get("geometry")
        label = f"feature {index}" + (f" ({ext})" if ext is not None else "")
        yield _Row(label, nfc(str(ext)) if ext is not None else None, fields)


def _csv_rows(text: str, attr_codes: set[str], ignored: set[str]) -> Iterator[_Row]:
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    lat_col = next((c for c in LAT_COLUMNS if c in header), None)
    lon_col = next((c for c in LON_COLUMNS if c in header), None)
    if lat_col is None or lon_col is None:
        raise PlaceImportError(
            f"The CSV needs a latitude column ({'/'.join(LAT_COLUMNS)}) and a longitude column "
            f"({'/'.join(LON_COLUMNS)}); it has {', '.join(header) or 'no header'}"
        )
    skip = set(NAME_COLUMNS) | set(ID_COLUMNS) | set(LAT_COLUMNS) | set(LON_COLUMNS)
    for index, raw in enumerate(reader, start=2):  # line 1 is the header
        if index - 1 > MAX_ROWS:
            raise PlaceImportError(f"more than {MAX_ROWS} rows: split the file")
        props = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        ext = _pick(props, ID_COLUMNS)
        fields = _split({k: v for k, v in props.items() if v != ""}, attr_codes, ignored, skip)
        try:
            lat = float(props.get(lat_col, "").replace(",", "."))
            lon = float(props.get(lon_col, "").replace(",", "."))
            fields["geometry"] = point(lon, lat)
        except ValueError:
            fields["geometry"] = {"type": "Point", "coordinates": "not numbers"}
        label = f"line {index}" + (f" ({ext})" if ext else "")
        yield _Row(label, ext or None, fields)


def _read(source: Path | bytes | str) -> tuple[str, bool]:
    """(text, is_geojson) of a file path or of the bytes of one."""
    if isinstance(source, bytes):
        raw, suffix = source, ""
    else:
        path = Path(source)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PlaceImportError(f"Cannot read {path}: {exc.strerror}") from None
        suffix = path.suffix.lower()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PlaceImportError("The file is not UTF-8 text") from None
    if suffix in (".geojson", ".json"):
        return text, True
    if suffix == ".csv":
        return text, False
    return text, text.lstrip().startswith("{")


def import_features(
    session: Session,
    source: Path | bytes | str,
    type_code: str,
    *,
    source_name: str,
    dry_run: bool = False,
    demo: bool = False,
    crs: str | None = None,
) -> ImportReport:
    """Create or update places of ``type_code`` from a GeoJSON or CSV file (a path, or its bytes).

    Matching is on (type, ``source_name``, external id). Flushes, never commits; with ``dry_run`` nothing is
    written. Raises :class:`PlaceImportError` when the file as a whole is unreadable, and
    :class:`~cityops.errors.Invalid` for an unknown type.
    """
    ptype = get_type(session, type_code)
    attr_codes = {a.code for a in attribute_specs(ptype)}
    text, is_geojson = _read(source)
    ignored: set[str] = set()
    if is_geojson:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlaceImportError(f"Not valid JSON: {exc}") from None
        if crs is None and isinstance(data, Mapping):
            crs = declared_crs(data)
        rows = list(_geojson_rows(data, attr_codes, ignored))
    else:
        rows = list(_csv_rows(text, attr_codes, ignored))
    report = ImportReport(type_code=ptype.code, source_name=source_name, dry_run=dry_run)
    existing = {
        p.external_id: p
        for p in session.scalars(
            select(Place).where(Place.type_code == ptype.code, Place.source == source_name)
        )
    }
    seen: set[str] = set()
    label = f"import:{source_name}"[:128]
    for row in rows:
        _one(session, ptype, row, existing, seen, report, crs=crs, demo=demo, label=label)
    report.ignored = sorted(ignored)
    return report


def _one(
    session: Session,
    ptype: PlaceType,
    row: _Row,
    existing: dict[str | None, Place],
    seen: set[str],
    report: ImportReport,
    *,
    crs: str | None,
    demo: bool,
    label: str,
) -> None:
    if row.external_id is None:
        report.rejected.append((row.label, "no external id (id, external_id, ma or code)"))
        return
    if row.external_id in seen:
        report.rejected.append((row.label, f"external id {row.external_id!r} appears twice in the file"))
        return
    seen.add(row.external_id)
    place = existing.get(row.external_id)
    fields = dict(row.fields, source=report.source_name, external_id=row.external_id)
    if place is not None:
        # an import states every attribute of the row: attributes it lacks are removed
        fields["attributes"] = {
            **{k: None for k in place.attributes or {}},
            **fields.get("attributes", {}),
        }
    try:
        values = service.prepare(session, ptype, fields, place=place, crs=crs, coerce=True)
    except ApiError as exc:
        reasons = [f"{d['field']}: {d['msg']}" for d in exc.details] if isinstance(exc.details, list) else []
        report.rejected.append((row.label, "; ".join(reasons) or exc.message))
        return
    if place is None:
        if report.dry_run:
            report.created.append((row.label, None))
            return
        created = service.create_place(session, ptype, values, actor=None, label=label, demo=demo)
        report.created.append((row.label, created.id))
        return
    changed = any(k != "name_key" and getattr(place, k) != v for k, v in values.items())
    if not changed:
        report.unchanged.append((row.label, place.id))
    elif report.dry_run:
        report.updated.append((row.label, place.id))
    else:
        service.update_place(session, place, values, actor=None, label=label)
        report.updated.append((row.label, place.id))
