"""The audit log: one append-only row per state change (who, what, when, before/after).

Append-only is enforced by the database, not only by the absence of an API: triggers refuse UPDATE
and DELETE on ``audit_log``. They are installed by ``metadata.create_all`` (an ``after_create``
event on the table) and the same statements are available from :func:`append_only_ddl` for the
Alembic migration.

PostgreSQL: a row trigger raises on UPDATE and DELETE. ``TRUNCATE`` fires no row trigger, which the
test suite uses to empty tables; in production also ``REVOKE UPDATE, DELETE, TRUNCATE ON audit_log``
from the application's role.

SQLite: UPDATE is always refused. DELETE is refused unless the connection has registered the SQL
function ``cityops_audit_purge()`` returning 1 — see :func:`cityops.audit.maintenance.audit_purge_allowed`.
No API or SQL statement can register a function; only Python code holding the raw DB-API
connection can, which is what the test suite's table reset does. On any other connection the
trigger fails closed (``no such function`` or ``audit_log is append-only``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import Table

from cityops.clock import utcnow
from cityops.db import Base, JSONType, UTCDateTime

TABLE = "audit_log"
PURGE_FUNCTION = "cityops_audit_purge"
APPEND_ONLY_MESSAGE = "audit_log is append-only"


class AuditEntry(Base):
    __tablename__ = TABLE
    __table_args__ = (
        Index("ix_audit_log_target", "target_type", "target_id"),
        Index("ix_audit_log_actor", "actor_type", "actor_id"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action", "action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))  # user | api_key | system | anonymous
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_label: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))  # e.g. user.create, case.transition
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


def append_only_ddl(dialect_name: str) -> list[str]:
    """SQL statements that make ``audit_log`` append-only on ``dialect_name`` (sqlite | postgresql).

    For the Alembic migration: ``for stmt in append_only_ddl(op.get_bind().dialect.name): op.execute(stmt)``.
    """
    if dialect_name == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END "
            "$fn$",
            f"DROP TRIGGER IF EXISTS audit_log_no_change ON {TABLE}",
            f"CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        ]
    if dialect_name == "sqlite":
        return [
            "DROP TRIGGER IF EXISTS audit_log_no_update",
            f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END",
            "DROP TRIGGER IF EXISTS audit_log_no_delete",
            f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON {TABLE} "
            f"WHEN {PURGE_FUNCTION}() IS NOT 1 "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END",
        ]
    raise ValueError(f"no append-only triggers for the {dialect_name!r} dialect")


TRIGGER_NAMES = {
    "postgresql": frozenset({"audit_log_no_change"}),
    "sqlite": frozenset({"audit_log_no_update", "audit_log_no_delete"}),
}


def missing_triggers(connection: Connection) -> set[str]:
    """Append-only triggers absent from this database (e.g. a migration that forgot them, or an
    SQLite batch migration that rebuilt ``audit_log``; re-run :func:`append_only_ddl` to fix it)."""
    dialect = connection.dialect.name
    wanted = set(TRIGGER_NAMES.get(dialect, ()))
    if dialect == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        )
    elif dialect == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal"
        )
    else:
        return wanted
    return wanted - {row[0] for row in rows}


def _install_triggers(target: Table, connection: Connection, **_kw: Any) -> None:
    for stmt in append_only_ddl(connection.dialect.name):
        connection.exec_driver_sql(stmt)


event.listen(AuditEntry.__table__, "after_create", _install_triggers)
