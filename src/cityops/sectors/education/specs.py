"""What the education sector declares to the core: its case category and the school place type.

A school's level follows the Vietnamese system (mầm non, tiểu học, THCS, THPT; multi-level schools exist), and
its size (students, classes) is what the department's yearly statistics report; a school's phone is public, the
principal's is for staff.
"""

from __future__ import annotations

from cityops.specs import (
    AttributeSpec,
    AttributeType,
    CategorySpec,
    IndicatorSource,
    IndicatorSpec,
    Period,
    PlaceTypeSpec,
)

SECTOR = "education"

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("education", "Giáo dục", "Education", sla_hours=40, sector=SECTOR, order=90),
)

SCHOOL = PlaceTypeSpec(
    code="school",
    name_vi="Trường học",
    name_en="School",
    sector=SECTOR,
    icon="school",
    visibility="public",
    attributes=(
        AttributeSpec(
            "level",
            "Cấp học",
            "Level",
            AttributeType.ENUM,
            required=True,
            values=(
                ("preschool", "Mầm non", "Preschool"),
                ("primary", "Tiểu học", "Primary"),
                ("lower_secondary", "Trung học cơ sở", "Lower secondary"),
                ("upper_secondary", "Trung học phổ thông", "Upper secondary"),
                ("multi_level", "Nhiều cấp học", "Multi-level"),
            ),
        ),
        AttributeSpec(
            "ownership",
            "Loại hình",
            "Ownership",
            AttributeType.ENUM,
            values=(("public", "Công lập", "Public"), ("private", "Ngoài công lập", "Private")),
        ),
        AttributeSpec("students", "Số học sinh", "Students", AttributeType.INTEGER, minimum=0, maximum=10000),
        AttributeSpec("classes", "Số lớp", "Classes", AttributeType.INTEGER, minimum=0, maximum=300),
        AttributeSpec("address", "Địa chỉ", "Address", max_length=300),
        AttributeSpec("phone", "Điện thoại", "Phone", AttributeType.PHONE),
        AttributeSpec("website", "Trang web", "Website", AttributeType.URL),
        AttributeSpec(
            "principal_phone",
            "Điện thoại hiệu trưởng",
            "Principal's phone",
            AttributeType.PHONE,
            staff_only=True,
        ),
    ),
    description="Trường mầm non, tiểu học, trung học cơ sở và trung học phổ thông.",
)

PLACE_TYPES: tuple[PlaceTypeSpec, ...] = (SCHOOL,)

INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec(
        code="education.students_per_class",
        name_vi="Số học sinh bình quân một lớp",
        name_en="Students per class",
        unit="{students}",
        direction="lower",
        period=Period.YEAR,
        source=IndicatorSource.PLACES,
        sector=SECTOR,
        method="places.attribute_sum",
        params={"types": ["school"], "attribute": "students", "per_attribute": "classes", "scale": 1},
        aggregation="ratio",
        description_vi="Tổng số học sinh chia tổng số lớp của các trường có cả hai số liệu.",
        description_en="Students over classes, over the schools that state both.",
    ),
)
