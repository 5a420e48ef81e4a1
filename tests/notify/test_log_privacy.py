"""No personal data in logs (#21 finding 12): an undeliverable SMS names its recipient masked, a Recipient
never prints its address, and the production handler masks what a record still carries."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from cityops.notify import Recipient, notify
from cityops.ops.logs import configure_logging
from cityops.settings import Settings, load_settings
from tests.security.logscrub import personal_data_in

STRONG_SECRET = "k7Qp-2vXr9LmZt4Wb8YhNc3Fd6Sg1Jx5Ue0Ra"
PHONE = "+84912345678"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def notify_log() -> Iterator[Collect]:
    logger = logging.getLogger("cityops.notify")
    handler = Collect()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_undeliverable_sms_logs_the_number_masked(
    settings: Settings, session: Session, notify_log: Collect
) -> None:
    production = load_settings(
        env="production",
        secret_key=STRONG_SECRET,
        data_dir=settings.data_dir,
        database_url=settings.database_url,
    )
    notify(session, production, {"phone": PHONE}, "case_status", {"ref": "PA-1", "state": "resolved"})
    [line] = [x for x in notify_log.lines if "not deliverable" in x]
    assert PHONE not in line
    assert "+8491***678" in line
    assert personal_data_in(line) == []


@pytest.mark.parametrize(
    ("recipient", "shown"),
    [
        (Recipient(phone=PHONE), "+8491***678"),
        (Recipient(phone="0909123456"), "0909***456"),
        (Recipient(email="nguyen.van.a@example.vn"), "ng***@example.vn"),
        (Recipient(user_id=7), "user:7"),
    ],
)
def test_a_recipient_prints_masked(recipient: Recipient, shown: str) -> None:
    assert shown in repr(recipient)
    assert shown in str(recipient)
    assert personal_data_in(repr(recipient)) == []


@pytest.fixture
def no_personal_data_in_logs() -> None:
    """Overrides the folder's log check in this module: the last test logs a phone on purpose."""


def test_the_production_handler_masks_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("cityops")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        configure_logging(load_settings(env="test", log_json=True), stream)
        other = logging.getLogger("cityops.something")
        other.warning("could not reach %s or %s", "0912 345 678", "a.b@example.vn")
        try:
            raise RuntimeError("gateway refused +84912345678")
        except RuntimeError:
            other.exception("sending failed")
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    written = stream.getvalue()
    assert "[***]" in written
    assert personal_data_in(written) == [], written
