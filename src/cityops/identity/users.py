"""Creating and changing users (API, CLI, demo and test fixtures all go through here; each change is audited)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.audit.service import record, snapshot
from cityops.errors import Conflict, Invalid
from cityops.identity import passwords, tokens
from cityops.identity.models import Agency, Membership, Role, User
from cityops.identity.phones import normalize_phone
from cityops.text import nfc, search_key

if TYPE_CHECKING:
    from starlette.requests import Request

    from cityops.identity.policy import Principal

_UNSET: object = object()


def _user_snapshot(user: User, *, redact: bool = True) -> dict[str, object]:
    # name_key is derived from the (personal) full name, so it is left out.
    return snapshot(user, exclude={"name_key"}, extra={"agency_ids": user.agency_ids}, redact=redact)


def name_key_for(user: User) -> str:
    return search_key(" ".join(filter(None, [user.full_name, user.username, user.email])))


def clean_username(value: str) -> str:
    name = nfc(value).lower()
    if not 2 <= len(name) <= 64 or any(ch.isspace() for ch in name):
        raise Invalid("A username has 2 to 64 characters and no spaces", details={"field": "username"})
    return name


def clean_phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except ValueError as exc:
        raise Invalid(f"Phone number: {exc}", details={"field": "phone"}) from None


def _check_password(password: str) -> str:
    try:
        passwords.check_strength(password)
    except ValueError as exc:
        raise Invalid(f"Password: {exc}", details={"field": "password"}) from None
    return passwords.hash_password(password)


def _check_agencies(session: Session, agency_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(agency_ids))
    if not wanted:
        return []
    found = set(session.scalars(select(Agency.id).where(Agency.id.in_(wanted))))
    missing = [a for a in wanted if a not in found]
    if missing:
        raise Invalid("Unknown agency", details={"agency_ids": missing})
    return wanted


def find_login(session: Session, identifier: str) -> User | None:
    """The user signing in as ``identifier``: a username, or a phone number in any common spelling."""
    ident = nfc(identifier)
    conditions = [User.username == ident.lower()]  # usernames are stored in lower case
    with contextlib.suppress(ValueError):
        conditions.append(User.phone == normalize_phone(ident))
    return session.scalar(select(User).where(or_(*conditions)))


def create_user(
    session: Session,
    *,
    role: Role,
    username: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    full_name: str = "",
    password: str | None = None,
    agency_ids: Iterable[int] = (),
    actor: Principal | None = None,
    request: Request | None = None,
    audit_label: str | None = None,
) -> User:
    """Create a user (flushed and audited as ``user.create``; the caller commits).

    Raises :class:`Invalid` for bad input and :class:`Conflict` for a taken username or phone.
    """
    if not username and not phone:
        raise Invalid("A user needs a username or a phone number")
    uname = clean_username(username) if username else None
    phone_e164 = clean_phone(phone) if phone else None
    if uname and session.scalar(select(User.id).where(User.username == uname)):
        raise Conflict("This username is taken", details={"field": "username"})
    if phone_e164 and session.scalar(select(User.id).where(User.phone == phone_e164)):
        raise Conflict("This phone number is already registered", details={"field": "phone"})
    user = User(
        username=uname,
        phone=phone_e164,
        email=nfc(email) if email else None,
        full_name=nfc(full_name),
        password_hash=_check_password(password) if password is not None else None,
        role=Role(role),
        is_active=True,
    )
    user.memberships = [Membership(agency_id=a) for a in _check_agencies(session, agency_ids)]
    user.name_key = name_key_for(user)
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        after=_user_snapshot(user),
        request=request,
        label=audit_label,
    )
    return user


def update_user(
    session: Session,
    user: User,
    *,
    role: Role | None = None,
    is_active: bool | None = None,
    full_name: str | None = None,
    email: str | object | None = _UNSET,
    password: str | None = None,
    agency_ids: Iterable[int] | None = None,
    actor: Principal | None = None,
    request: Request | None = None,
    audit_label: str | None = None,
    keep_session_id: int | None = None,
) -> User:
    """Change a user (audited as ``user.update`` with before/after; the caller commits).

    A new role, new agencies, a deactivation or a new password signs the user out everywhere
    (except ``keep_session_id``: the session of a user changing their own password).
    """
    before = _user_snapshot(user)
    raw_before = _user_snapshot(user, redact=False)
    sign_out = False
    if role is not None and role != user.role:
        user.role = Role(role)
        sign_out = True
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        sign_out = sign_out or not is_active
    if full_name is not None:
        user.full_name = nfc(full_name)
    if email is not _UNSET:
        user.email = nfc(email) if isinstance(email, str) and email.strip() else None
    if password is not None:
        user.password_hash = _check_password(password)
        sign_out = True
    if agency_ids is not None:
        wanted = _check_agencies(session, agency_ids)
        if wanted != user.agency_ids:
            user.memberships = [Membership(agency_id=a) for a in wanted]
            sign_out = True
    user.name_key = name_key_for(user)
    session.flush()
    after = _user_snapshot(user)
    raw_after = _user_snapshot(user, redact=False)
    changed = sorted(k for k in raw_after if raw_after[k] != raw_before.get(k))
    if password is not None:  # the hash is never in a snapshot
        changed.append("password")
    if changed:
        if sign_out:
            tokens.revoke_user_sessions(
                session, user.id, keep_session_id=keep_session_id if user.is_active else None
            )
        after["password_changed"] = password is not None
        after["changed_fields"] = changed
        record(
            session,
            actor,
            "user.update",
            "user",
            user.id,
            before=before,
            after=after,
            request=request,
            label=audit_label,
        )
    return user


def user_view(user: User) -> dict[str, object]:
    """The public JSON shape of a user (no password hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "phone": user.phone,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role.value,
        "is_active": user.is_active,
        "agency_ids": user.agency_ids,
        "has_password": user.password_hash is not None,
        "created_at": user.created_at.isoformat(),
    }
