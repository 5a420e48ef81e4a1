"""What the public-order sector declares to the core: its case categories.

Security and order reports go to the ward police; construction and urban-order reports (building without a
permit, encroaching on pavements) to the ward's urban order team, which works with the police. The sector has no
place type yet (police posts are not published as places).
"""

from __future__ import annotations

from cityops.specs import CategorySpec, Datatype, QuestionSpec

SECTOR = "public_order"

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "public_order", "An ninh trật tự", "Public order", sla_hours=8, urgent=True, sector=SECTOR, order=60
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
