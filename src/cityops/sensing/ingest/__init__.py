"""The observation write path: batched, idempotent, with incremental roll-ups and latest values.

Every ingest path calls :func:`ingest_observations` or :func:`ingest_columns` (:mod:`.write`, which says
the order of the steps). One module per step: :mod:`.batch` (rows, columns, canonical time texts),
:mod:`.flags` (quality), :mod:`.sqlite` and :mod:`.postgres` (the insert, one per backend, with
:mod:`.encoding`), :mod:`.datastreams` (ranges, latest value, observed area), :mod:`.rollups`. :mod:`.group` commits
concurrent small requests together (one transaction, one event; #22). The names callers use are exported
here.
"""

from __future__ import annotations

from cityops.sensing.ingest.batch import IngestError, IngestResult, ObservationColumns, ObservationIn
from cityops.sensing.ingest.write import ingest_columns, ingest_observations

__all__ = [
    "IngestError",
    "IngestResult",
    "ObservationColumns",
    "ObservationIn",
    "ingest_columns",
    "ingest_observations",
]
