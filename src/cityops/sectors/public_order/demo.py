"""The public-order demo: reports around Tân An entered by the IOC operator (restricted: stored hidden, seen by
the provincial police and operators), seven of them near Chợ Tân An so that one hotspot cell reaches k = 5 and is
published, four scattered ones that stay below k and are never published. Once: skipped when they exist.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from cityops.clock import utcnow
from cityops.identity.models import Role
from cityops.identity.policy import Principal, PrincipalKind
from cityops.reports.access import Actor
from cityops.reports.categories import sync_categories
from cityops.reports.intake import Submission, submit
from cityops.reports.models import Case

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings

SOURCE = "demo-po"
MARKET = (10.5365, 106.4135)  # near Chợ Tân An (approximate)
CLUSTER = (
    ("disturbance", "Nhóm thanh niên tụ tập gây ồn ào khuya gần chợ"),
    ("theft", "Mất xe máy ở bãi giữ xe chợ"),
    ("fight", "Xô xát giữa hai tiểu thương"),
    ("disturbance", "Hát karaoke lớn sau 22 giờ"),
    ("theft", "Bị giật điện thoại gần cổng chợ"),
    ("gambling", "Tụ tập đánh bài ăn tiền sau chợ"),
    ("disturbance", "Xe máy nẹt pô quanh chợ lúc khuya"),
)
SCATTERED = (
    ((10.5520, 106.3960), "theft", "Mất trộm gà trong vườn"),
    ((10.5180, 106.4300), "disturbance", "Tiếng ồn công trình ban đêm"),
    ((10.5610, 106.4410), "fight", "Cãi nhau lớn trong hẻm"),
    ((10.5050, 106.3880), "other", "Người lạ đi lại khả nghi"),
)


def load(session: Session, settings: Settings, console: Console) -> None:
    sync_categories(session)
    if session.scalar(select(Case.id).where(Case.source == SOURCE).limit(1)) is not None:
        return
    operator = Actor(Principal(kind=PrincipalKind.USER, role=Role.OPERATOR, label="demo"))
    now = utcnow()
    rows = [
        ((MARKET[0] + 0.00002 * i, MARKET[1] + 0.00001 * i), kind, text)
        for i, (kind, text) in enumerate(CLUSTER)
    ]
    rows += list(SCATTERED)
    for i, ((lat, lon), kind, text) in enumerate(rows):
        sub = Submission(
            category_code="public_order",
            description=text,
            lat=lat,
            lon=lon,
            answers={"incident_type": kind},
            source=SOURCE,
        )
        submit(session, settings, operator, sub, now=now - timedelta(minutes=5 + 2 * i))
    console.print(
        f"Public order: {len(rows)} demo reports (restricted), {len(CLUSTER)} near Chợ Tân An form a hotspot."
    )
