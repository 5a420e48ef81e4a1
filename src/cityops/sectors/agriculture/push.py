"""Pushing changed salinity bulletins to the people subscribed to the commune (alerts' area subscriptions).

A bulletin is pushed when its level differs from the previous bulletin of the same commune and crop and
either of the two is *caution* or *harm* (so "stop taking water" and "you may take water again" both reach
the farmer; a day's routine re-issue at the same level does not). The subscriptions are those of alerts
(``cityops.alerts.delivery.subscribers``: the commune, its lineage and the units above it); a *harm*
bulletin counts as a warning, the others as a watch, against each subscription's minimum severity. Sending
goes through notify (web push, SMS, e-mail), after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cityops.alerts.delivery import subscribers
from cityops.alerts.models import AlertSubscription, Severity
from cityops.notify.channels import Message, Recipient
from cityops.notify.notifier import Notifier
from cityops.sectors.agriculture.crops import CROPS
from cityops.sectors.agriculture.models import SalinityBulletin
from cityops.settings import Settings

WORTH_PUSHING = {"caution", "harm"}


def worth_pushing(level: str, previous: str | None) -> bool:
    return level != previous and (level in WORTH_PUSHING or previous in WORTH_PUSHING)


def _message(b: SalinityBulletin, area_name: str, sub: AlertSubscription) -> Message:
    crop = CROPS.get(b.crop)
    recipient = (
        Recipient(user_id=sub.user_id, push={"ref": str(sub.push_subscription_id)})
        if sub.push_subscription_id is not None
        else Recipient(user_id=sub.user_id, phone=sub.phone, email=sub.email)
    )
    return Message(
        recipient,
        subject_vi=f"Bản tin mặn: {crop.name_vi if crop else b.crop} – {area_name}",
        body_vi=b.text_vi,
        subject_en=f"Salinity bulletin: {crop.name_en if crop else b.crop} – {area_name}",
        body_en=b.text_en,
        locale=sub.locale,
        category="bulletin",
        data={"bulletin_id": b.id, "level": b.level, "url": "/#/bulletins"},
    )


def push_changes(
    session: Session,
    settings: Settings,
    changes: Sequence[tuple[SalinityBulletin, str | None]],
    area_names: dict[int, str],
) -> int:
    """Send the bulletins worth pushing to their communes' subscribers; returns the messages queued."""
    notifier: Notifier | None = None
    sent = 0
    for bulletin, previous in changes:
        if not worth_pushing(bulletin.level, previous):
            continue
        severity = Severity.WARNING if bulletin.level == "harm" else Severity.WATCH
        for sub in subscribers(session, [bulletin.area_id], severity):
            notifier = notifier or Notifier.from_settings(settings)
            notifier.send(session, _message(bulletin, area_names.get(bulletin.area_id, ""), sub))
            sent += 1
    return sent
