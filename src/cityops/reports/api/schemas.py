"""The response shapes of the report routes, so the OpenAPI document tells clients what they get (#13).

Routes that build their answer as a dict keep doing so; FastAPI checks it against these models and
serialises it. ``extra="forbid"``: a key the model does not name is a server error in tests, never a key the
document hides from clients."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """A response shape: built from dicts or ORM rows, every key named."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class CategoryOut(Out):
    code: str
    name_vi: str
    name_en: str
    description: str
    sla_hours: float
    urgent: bool
    questions: list[dict[str, Any]]


class DuplicateOut(Out):
    """An open case of the same category nearby (contact details masked)."""

    ref: str | None
    distance_m: float
    state: str
    description: str | None
    submitted_at: str


class SubmissionOut(Out):
    ref: str | None
    token: str
    state: str
    category: str
    routed: bool
    area_id: int | None
    location_source: str | None
    submitted_at: str | None
    ack_due_at: str | None
    expected_at: str | None
    duplicates: list[DuplicateOut]


class Point(Out):
    lat: float
    lon: float


class UploadOut(Out):
    media_id: int
    kind: str
    content_type: str
    exif_location: Point | None
    upload_token: str | None


class PublicMediaOut(Out):
    kind: str
    role: str | None
    url: str
    thumbnail_url: str | None


class PublicCaseOut(Out):
    """A case as the public sees it: no personal data, contact details masked."""

    ref: str | None
    category: str
    category_name: str
    category_name_en: str
    state: str
    status: str
    reject_reason: str | None
    duplicate_of: str | None
    description: str | None
    lat: float | None
    lon: float | None
    address: str | None
    area_id: int | None
    area_name: str | None
    agency_name: str | None
    urgent: bool
    submitted_at: str | None
    updated_at: str | None
    expected_at: str | None
    overdue: bool
    status_note: str | None
    media: list[PublicMediaOut]


class PublicTimelineOut(Out):
    at: str | None
    kind: str
    action: str | None
    from_state: str | None
    to_state: str | None
    comment: str | None


class PublicDetailOut(PublicCaseOut):
    timeline: list[PublicTimelineOut]


class PublicPage(Out):
    total: int
    items: list[PublicCaseOut]


class ScoreRowOut(Out):
    key: int | None
    name: str
    received: int
    open: int
    resolved: int
    rejected: int
    overdue_open: int
    on_time_pct: float | None
    median_ack_hours: float | None
    median_resolve_hours: float | None
    ratings: int
    satisfaction: float | None


class ScorecardOut(Out):
    by: Literal["agency", "area"]
    since: str
    until: str
    area_id: int | None
    source: str
    rows: list[ScoreRowOut]


class TrackOut(PublicDetailOut):
    """The reporter's view through the tracking token: the public detail and what they may do next."""

    can_reopen: bool
    can_rate: bool


class RatingOut(Out):
    ref: str | None
    score: int


class SubscribedOut(Out):
    """Followed at once (``subscribed``), or a code was sent to the typed address (``verification``)."""

    ref: str | None
    subscribed: bool
    verification: Literal["sent"] | None = None


class TokenOut(Out):
    ref: str | None
    token: str


class MyCasesOut(Out):
    items: list[PublicCaseOut]


class MyReportOut(Out):
    """One of the citizen's reports with the contact details they gave."""

    ref: str | None
    state: str | None
    description: str | None
    submitted_at: str | None
    name: str | None
    phone: str | None
    email: str | None
    consent: bool | None
    consent_purpose: str | None
    merged_into: bool


class MySubscriptionOut(Out):
    case_id: int
    channel: str


class MyRatingOut(Out):
    case_id: int
    score: int
    comment: str | None


class PersonalDataOut(Out):
    """Everything the reports hold about the signed-in citizen."""

    reports: list[MyReportOut]
    subscriptions: list[MySubscriptionOut]
    ratings: list[MyRatingOut]


class ErasedOut(Out):
    erased_reports: int


class StaffEventOut(Out):
    """A timeline entry as staff see it: internal notes and who acted included."""

    id: int
    at: str | None
    actor_id: int | None
    actor_role: str | None
    kind: str
    action: str | None
    from_state: str | None
    to_state: str | None
    public: bool
    comment: str | None
    data: dict[str, Any] | None


class ExtensionOut(Out):
    id: int
    hours: float
    reason: str | None
    status: str
    requested_by: int | None


class CaseMediaOut(Out):
    case_media_id: int
    media_id: int
    role: str | None
    review_state: str | None
    kind: str


class ReporterOut(Out):
    """A reporter's contact details: only for staff the policy allows to see them."""

    user_id: int | None
    name: str | None
    phone: str | None
    email: str | None
    merged_from_id: int | None


class AssigneeOut(Out):
    id: int
    name: str
    role: str


class StaffCaseOut(PublicCaseOut):
    """Everything staff handling the case see; ``reporters`` only when the policy allows, ``assignees``
    only when they may assign."""

    id: int
    agency_id: int | None
    assignee_id: int | None
    supporting_agency_ids: list[int]
    answers: dict[str, Any] | None
    accuracy_m: float | None
    location_source: str | None
    source: str | None
    hidden: bool
    ack_due_at: str | None
    resolve_due_at: str | None
    warned_at: str | None
    escalated_at: str | None
    consent: bool | None
    consent_purpose: str | None
    allowed_actions: list[str]
    assignees: list[AssigneeOut] | None = None
    timeline: list[StaffEventOut]
    extensions: list[ExtensionOut]
    all_media: list[CaseMediaOut]
    reporters: list[ReporterOut] | None = None


class StaffSummaryOut(Out):
    ref: str | None
    state: str
    category: str
    area_id: int | None
    agency_id: int | None
    assignee_id: int | None
    urgent: bool
    submitted_at: str | None
    due_at: str | None
    overdue: bool
    description: str


class InboxPage(Out):
    total: int
    items: list[StaffSummaryOut]


class NotedOut(Out):
    ref: str | None
    noted: bool


class AssignedOut(Out):
    assigned: list[str | None]
    assignee_id: int


class TemplateOut(Out):
    id: int
    title: str
    body: str
    action: str | None
    agency_id: int | None


class MediaStateOut(Out):
    media_id: int
    review_state: str


class VisibilityOut(Out):
    ref: str | None
    hidden: bool


class TemplateCreatedOut(Out):
    id: int
    title: str
