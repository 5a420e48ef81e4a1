"""Personal data across capabilities: one export, account deletion, and the retention sweep.

Privacy owns no personal data and imports no capability that holds some: each capability declares what it
holds through the ``personal_data`` hook (a :class:`~cityops.specs.PersonalDataSpec` with export, erase and
retention), and this module runs them all: the export gathers every capability's part under its key, the
account deletion erases every part (in reverse registration order, a teardown) and the retention sweep
purges what became older than ``privacy_retention_days``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cityops.audit.service import record
from cityops.clock import utcnow
from cityops.errors import Forbidden, NotFound
from cityops.identity.models import Role, User
from cityops.identity.policy import Principal
from cityops.plugins import declarations
from cityops.settings import Settings
from cityops.specs import PersonalDataSpec, SpecError


def declared() -> list[PersonalDataSpec]:
    """Every capability's personal data, in plugin registration order; a key declared twice fails."""
    seen: dict[str, str] = {}
    specs = []
    for plugin, spec in declarations("personal_data", PersonalDataSpec):
        for key in {spec.key, spec.erase_key or spec.key}:
            if key in seen or key == "exported_at":
                raise SpecError(f"plugin {plugin}: personal data key {key!r} already used by {seen.get(key)}")
            seen[key] = plugin
        specs.append(spec)
    return specs


def export_all(session: Session, user_id: int) -> dict[str, Any]:
    """Everything cityops holds about the user ``user_id``, as JSON-ready data (one key per capability)."""
    if session.get(User, user_id) is None:
        raise NotFound("No such user")
    out: dict[str, Any] = {"exported_at": utcnow().isoformat()}
    for spec in declared():
        out[spec.key] = spec.export(session, user_id)
    return out


@dataclass(frozen=True)
class Deletion:
    """What an account deletion erased: records per capability (``erase_key`` or ``key``)."""

    erased: Mapping[str, int]


def delete_account(session: Session, principal: Principal, *, now: datetime | None = None) -> Deletion:
    """Close the signed-in citizen's account: reports stay (anonymous), everything personal goes.

    Staff accounts are closed by an admin instead (their actions must stay attributable).
    """
    if principal.user_id is None:
        raise Forbidden("Only a signed-in citizen can delete their account")
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    if Role(user.role) is not Role.CITIZEN:
        raise Forbidden("Staff accounts are closed by an administrator")
    erased = {spec.erase_key or spec.key: spec.erase(session, user.id) for spec in reversed(declared())}
    session.flush()
    record(session, principal, "privacy.delete_account", "user", user.id, None, dict(erased))
    return Deletion(erased)


@dataclass(frozen=True)
class SweepStats:
    """What a retention sweep removed, per kind of record (``stats.reporters``, ``stats.deliveries``, ...)."""

    counts: Mapping[str, int]

    def __getattr__(self, name: str) -> int:
        counts = self.__dict__.get("counts", {})
        if name in counts:
            return int(counts[name])
        raise AttributeError(name)


def retention_sweep(session: Session, settings: Settings, *, now: datetime | None = None) -> SweepStats:
    """Purge, in every capability, personal data older than ``privacy_retention_days``."""
    cutoff = (now or utcnow()) - timedelta(days=settings.privacy_retention_days)
    counts: dict[str, int] = {}
    for spec in declared():
        if spec.purge is not None:
            counts.update(spec.purge(session, cutoff))
    session.flush()
    return SweepStats(counts)
