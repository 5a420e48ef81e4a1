"""What the public-order sector declares to the core: its case categories.

Security and order reports go to the ward police; construction and urban-order reports (building without a
permit, encroaching on pavements) to the ward's urban order team, which works with the police. The sector has no
place type yet (police posts are not published as places).

Public-order reports are **restricted** (``CategorySpec.restricted``): stored hidden from every public view, seen
only by the police agency holding them and the IOC operator (policy ``case.view_restricted``); the public sees
them only as k-anonymous hotspot cells (``hotspots.py``) and ward/month counts of at least k cases.
"""

from __future__ import annotations

from cityops.specs import CategorySpec, Datatype, QuestionSpec

SECTOR = "public_order"

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "public_order",
        "An ninh trật tự",
        "Public order",
        sla_hours=8,
        urgent=True,
        questions=(
            QuestionSpec(
                "incident_type",
                "Loại vụ việc",
                Datatype.SINGLEVALUELIST,
                values=(
                    ("disturbance", "Gây rối, ồn ào"),
                    ("fight", "Đánh nhau"),
                    ("theft", "Trộm cắp"),
                    ("gambling", "Cờ bạc"),
                    ("other", "Khác"),
                ),
                label_en="Kind of incident",
                values_en=(
                    ("disturbance", "Disturbance, noise"),
                    ("fight", "Fight"),
                    ("theft", "Theft"),
                    ("gambling", "Gambling"),
                    ("other", "Other"),
                ),
            ),
        ),
        sector=SECTOR,
        order=60,
        restricted=True,  # only the police agency holding it and the IOC operator see these cases
    ),
    CategorySpec(
        "construction",
        "Trật tự xây dựng, đô thị",
        "Construction and urban order",
        sla_hours=40,
        questions=(QuestionSpec("details", "Mô tả công trình", Datatype.TEXT, label_en="Site details"),),
        sector=SECTOR,
        order=130,
    ),
)
