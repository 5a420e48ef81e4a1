"""Login throttling, kept in the database so every API worker agrees.

Decided in #21 (an attacker could lock anyone out: 5 wrong passwords locked an account for 15 minutes
from every IP). Now:

- **per account and client IP** (``login_max_failures`` within ``login_window_seconds``): a hard stop
  for that pair only. A guesser at one address is stopped; the owner at theirs is not;
- **per client IP** (the same numbers, every account together): one address cannot spray many accounts;
- **per account, from every address together**: no lock, a *back-off*. From ``login_account_backoff_after``
  failures within the window, each further attempt must wait ``2^(n - threshold)`` seconds after the last
  failure, at most ``login_backoff_max_seconds``. A distributed guesser gets a few tries a minute; the
  owner waits at most that long, never 15 minutes.

Refused attempts answer 429 with ``Retry-After`` before the password is checked and are not recorded. A
success clears the account's and the pair's counts (not the IP's: one good account must not reset an
attacker's budget for the others).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError
from cityops.identity.models import LoginAttempt
from cityops.identity.phones import normalize_phone
from cityops.settings import Settings

ACCOUNT = "account"
IP = "ip"
ACCOUNT_IP = "acct_ip"  # key_kind is String(8): PostgreSQL refuses a longer value


@dataclass(frozen=True)
class ThrottleKeys:
    account: str
    ip: str | None

    def pairs(self) -> list[tuple[str, str]]:
        out = [(ACCOUNT, self.account)]
        if self.ip:
            out.append((IP, self.ip))
            out.append((ACCOUNT_IP, f"{self.account}|{self.ip}"[:255]))
        return out


def account_key(identifier: str, user_id: int | None = None) -> str:
    """The account a sign-in targets: the user id when the account exists, so that spelling the same
    account differently (username, phone as 09…, +84…) does not buy extra attempts; otherwise the
    identifier as typed, normalised."""
    if user_id is not None:
        return f"user:{user_id}"
    text = identifier.strip().lower()
    with contextlib.suppress(ValueError):
        text = normalize_phone(text)
    return f"name:{text}"[:255]


def _counted_failures(session: Session, kind: str, key: str, since: datetime) -> list[datetime]:
    rows = session.execute(
        select(LoginAttempt.at, LoginAttempt.success)
        .where(LoginAttempt.key_kind == kind, LoginAttempt.key == key, LoginAttempt.at > since)
        .order_by(LoginAttempt.at)
    ).all()
    failures: list[datetime] = []
    for at, success in rows:
        if success and kind in (ACCOUNT, ACCOUNT_IP):
            failures.clear()
        elif not success:
            failures.append(at)
    return failures


def retry_after(session: Session, settings: Settings, keys: ThrottleKeys, now: datetime | None = None) -> int:
    """Seconds until sign-in is allowed again for these keys; 0 when it is allowed now."""
    now = now or utcnow()
    window = timedelta(seconds=settings.login_window_seconds)
    wait = 0
    for kind, key in keys.pairs():
        failures = _counted_failures(session, kind, key, now - window)
        if kind == ACCOUNT:
            wait = max(wait, _backoff(settings, failures, now))
            continue
        if len(failures) >= settings.login_max_failures:
            # Allowed again once enough of the oldest failures have aged out of the window.
            release = failures[len(failures) - settings.login_max_failures] + window
            wait = max(wait, max(1, math.ceil((release - now).total_seconds())))
    return wait


def _backoff(settings: Settings, failures: list[datetime], now: datetime) -> int:
    """Seconds an account must still wait after its failures from every address (0: none)."""
    beyond = len(failures) - settings.login_account_backoff_after
    if beyond < 0:
        return 0
    delay = min(settings.login_backoff_max_seconds, 2**beyond)
    return max(0, math.ceil((failures[-1] + timedelta(seconds=delay) - now).total_seconds()))


def check(session: Session, settings: Settings, keys: ThrottleKeys, now: datetime | None = None) -> None:
    """Raise 429 (with ``Retry-After``) when these keys are throttled."""
    wait = retry_after(session, settings, keys, now)
    if wait:
        raise ApiError(
            429,
            "Too many failed sign-in attempts; try again later",
            details={"retry_after": wait},
            headers={"Retry-After": str(wait)},
        )


def record(
    session: Session, settings: Settings, keys: ThrottleKeys, *, success: bool, now: datetime | None = None
) -> None:
    """Record an attempt for each key and forget every attempt older than the window."""
    now = now or utcnow()
    horizon = now - timedelta(seconds=settings.login_window_seconds)
    # Attempts older than the window no longer count for anyone: the table stays small.
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= horizon))
    for kind, key in keys.pairs():
        session.add(LoginAttempt(key_kind=kind, key=key, at=now, success=success))
    session.flush()
