"""No personal data in logs: an autouse fixture that fails a test whose log records hold a phone number or
an e-mail address (#21 finding 12).

It sees every record a logger handles (``Logger.handle``, so the ``cityops`` loggers, which do not propagate
to pytest's capture, are seen too) before any handler filter masks it: the rule is checked on what code
logs, not on what the production filter (``cityops.ops.logs.PersonalDataFilter``) leaves. Registered for the
whole suite in ``tests/conftest.py``; one regex pass per record keeps it cheap.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

# Vietnamese phone numbers (+84/84/0, then 9–10 digits, optionally grouped) and e-mail addresses.
PHONE = re.compile(r"(?<![\w+*])(?:\+?84|0)[1-9](?:[ .\-]?\d){7,9}(?![\w*])")
EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")


def personal_data_in(text: str) -> list[str]:
    return [m.group(0) for pattern in (PHONE, EMAIL) for m in pattern.finditer(text)]


def _texts(record: logging.LogRecord) -> Iterator[str]:
    yield record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        yield str(record.exc_info[1])
    for key, value in vars(record).items():
        if key not in _RESERVED and isinstance(value, str):
            yield value


_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    leaks: list[str] = []
    handle = logging.Logger.handle

    def spying(self: logging.Logger, record: logging.LogRecord) -> None:
        for text in _texts(record):
            found = personal_data_in(text)
            if found:
                leaks.append(f"{record.name} {record.levelname}: {found} in {text[:200]!r}")
        handle(self, record)

    monkeypatch.setattr(logging.Logger, "handle", spying)
    yield
    if leaks:
        pytest.fail("personal data written to the log:\n" + "\n".join(leaks), pytrace=False)
