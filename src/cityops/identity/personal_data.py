"""The personal data identity holds (``personal_data`` hook): the account itself.

Erasure signs the user out everywhere and leaves the row as an inactive, nameless tombstone, so the links
other records hold (audit, case events) keep pointing at "a deleted account", not at nothing. Being
registered before the other capabilities, it is erased last (they may still need the phone or e-mail).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cityops.identity.models import Role, User
from cityops.identity.tokens import revoke_user_sessions
from cityops.specs import PersonalDataSpec


def export(session: Session, user_id: int) -> dict[str, Any] | None:
    user = session.get(User, user_id)
    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "phone": user.phone,
        "email": user.email,
        "full_name": user.full_name,
        "role": Role(user.role).value,
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }


def erase(session: Session, user_id: int) -> int:
    user = session.get(User, user_id)
    if user is None:
        return 0
    revoke_user_sessions(session, user.id)
    user.username = None
    user.phone = None
    user.email = None
    user.full_name = ""
    user.name_key = ""
    user.password_hash = None
    user.is_active = False
    return 1


SPEC = PersonalDataSpec(
    key="account",
    description="the account: user name, phone, e-mail, full name, role",
    export=export,
    erase=erase,
)
