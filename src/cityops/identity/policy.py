"""Every permission decision in cityops, in one place.

Who is asking is a :class:`Principal` (anonymous, a user with a role and agencies, or an API key with
scopes). What they want is an :class:`Action`. :data:`RULES` maps each action to a rule built from
the small predicates below; :func:`can` answers yes/no and :func:`authorize` raises
:class:`~cityops.errors.Unauthorized` (anonymous: sign in first) or :class:`~cityops.errors.Forbidden`.

Adding a capability's permissions: add its actions to :class:`Action` and one line per action to
:data:`RULES` (a test fails when an action has no rule). Rules that depend on the object take it as
``target``; targets are duck-typed through the small protocols below (``agency_id``,
``reporter_id``, ``thing_id``, ``id``), so this module imports no other capability.

Usage::

    from cityops.identity.policy import Action, authorize, can
    authorize(principal, Action.CASE_TRANSITION, case)          # raises 401/403
    if can(principal, Action.CASE_VIEW_PERSONAL, case): ...     # show the reporter's phone
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cityops.errors import Forbidden, Unauthorized
from cityops.identity.models import STAFF_ROLES, ApiScope, Role

if TYPE_CHECKING:
    from cityops.identity.models import ApiKey, User


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    USER = "user"
    API_KEY = "api_key"


@dataclass(frozen=True)
class Principal:
    """Who is asking. Build with :meth:`anonymous`, :meth:`for_user` or :meth:`for_api_key`."""

    kind: PrincipalKind
    user_id: int | None = None
    role: Role | None = None
    agency_ids: frozenset[int] = field(default_factory=frozenset)
    api_key_id: int | None = None
    scopes: frozenset[ApiScope] = field(default_factory=frozenset)
    thing_id: int | None = None  # an ingest key limited to one SensorThings Thing
    label: str = "anonymous"  # username / key name, for audit entries and logs
    session_id: int | None = None  # the AuthSession that authenticated this request, if any

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(kind=PrincipalKind.ANONYMOUS)

    @classmethod
    def for_user(cls, user: User, *, session_id: int | None = None) -> Principal:
        return cls(
            kind=PrincipalKind.USER,
            user_id=user.id,
            role=Role(user.role),
            agency_ids=frozenset(user.agency_ids),
            label=user.label,
            session_id=session_id,
        )

    @classmethod
    def for_api_key(cls, key: ApiKey) -> Principal:
        scopes = frozenset(ApiScope(s) for s in key.scopes if s in ApiScope._value2member_map_)
        return cls(
            kind=PrincipalKind.API_KEY,
            api_key_id=key.id,
            scopes=scopes,
            thing_id=key.thing_id,
            agency_ids=frozenset({key.owner_agency_id}) if key.owner_agency_id else frozenset(),
            label=f"key:{key.name}",
        )

    @property
    def is_anonymous(self) -> bool:
        return self.kind is PrincipalKind.ANONYMOUS

    @property
    def is_user(self) -> bool:
        return self.kind is PrincipalKind.USER

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class Action(StrEnum):
    # identity
    AUTH_ME = "auth.me"
    USER_LIST = "user.list"
    USER_VIEW = "user.view"  # target: the user (anything with ``id``)
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"  # role, active flag, agencies
    AGENCY_LIST = "agency.list"
    AGENCY_CREATE = "agency.create"
    AGENCY_UPDATE = "agency.update"
    JURISDICTION_MANAGE = "agency.jurisdiction.manage"
    API_KEY_LIST = "api_key.list"
    API_KEY_CREATE = "api_key.create"
    API_KEY_REVOKE = "api_key.revoke"
    API_KEY_QUOTA = "api_key.quota"  # set a key's per-minute/per-day quotas, read its usage (#15)
    WEBHOOK_MANAGE = "webhook.manage"  # integrators' webhook subscriptions, deliveries, replays (#15)
    # audit
    AUDIT_READ = "audit.read"
    # areas
    AREA_READ = "area.read"
    AREA_IMPORT = "area.import"  # load official boundaries / new units
    AREA_POPULATION_ENTER = "area.population.enter"  # residents per area and year, with their source
    AREA_ROLLOUT_MANAGE = "area.rollout.manage"  # make areas live, per-area settings (admin pages)
    CATEGORY_MANAGE = "category.manage"  # add and change the administration's own case categories
    CROP_TOLERANCE_MANAGE = "agriculture.crops.manage"  # the crops' salinity tolerances the bulletins use
    # places (stations, sluice gates, schools, ...)
    PLACE_READ = "place.read"  # public places and their public attributes
    PLACE_VIEW_STAFF = "place.view_staff"  # staff-only place types and attributes (an operator's phone)
    PLACE_MANAGE = "place.manage"  # create, edit, delete, import places
    PLACE_STATUS = "place.status"  # record a status change (a sluice opened, a camera offline)
    # programmes (the smart-city scheme as data): public to read, entered by the province's admins
    PROGRAMME_READ = "programme.read"
    PROGRAMME_MANAGE = "programme.manage"  # import, update projects, record disbursements
    # cases (citizen reports, hotline calls, incidents): targets have ``agency_id`` and ``reporter_id``
    CASE_CREATE = "case.create"
    CASE_VIEW = "case.view"  # public view: no personal data
    CASE_VIEW_RESTRICTED = "case.view_restricted"  # a case of a restricted category (public order)
    HOTSPOT_VIEW_FULL = "hotspot.view_full"  # public-order hotspots: every cell and exact times
    CASE_VIEW_PERSONAL = "case.view_personal"  # reporter name, phone, email, device/account (not the place)
    CASE_TRANSITION = "case.transition"  # acknowledge, start, resolve, transfer, comment as staff
    CASE_ASSIGN = "case.assign"  # route a case to an agency / officer
    CASE_APPROVE_EXTENSION = "case.approve_extension"
    CASE_MODERATE = "case.moderate"  # hide, redact, merge duplicates
    OPEN311_SUBMIT = "open311.submit"  # Open311 POST requests (needs an api_key with scope open311)
    CASE_REOPEN = "case.reopen"  # the reporter (or the holding agency) reopens a resolved case
    CASE_RATE = "case.rate"  # the reporter rates the handling 1–5
    # sensing: targets have ``thing_id``
    SENSING_INGEST = "sensing.ingest"
    SENSING_READ = "sensing.read"  # non-public data for integrators and staff
    SENSING_MANAGE = "sensing.manage"  # create/edit things, datastreams
    # alerts and the IOC
    ALERT_MANAGE = "alert.manage"  # acknowledge, close alerts; edit rules
    ALERT_RULE_MANAGE = "alert.rule.manage"  # create, edit, delete alert rules
    ALERT_SUBSCRIBE = "alert.subscribe"  # follow the alerts of an area (own subscriptions)
    PUSH_SUBSCRIBE = (
        "push.subscribe"  # a browser (anonymous device or signed in) gets area alerts by Web Push
    )
    IOC_VIEW = "ioc.view"
    IOC_VIEW_STAFF = "ioc.view_staff"  # staff-only IOC panels and map layers (audience="staff")
    # indicators: values are public aggregates; entering and target-setting are staff jobs
    INDICATOR_ENTER = "indicator.enter"  # hand-entered values with their source document
    INDICATOR_TARGET = "indicator.target"  # set the yearly targets
    # administrative dossiers (public services): pushed by the one-stop-shop system, looked up by citizens
    DOSSIER_PUSH = "dossier.push"  # upsert dossiers through the push API
    DOSSIER_IMPORT = "dossier.import"  # a CSV/JSON file of dossiers
    DOSSIER_LOOKUP = "dossier.lookup"  # by code and second factor (a guessed code reveals nothing)
    DOSSIER_VIEW = "dossier.view"  # staff read a dossier and its steps by code, without the factor
    # NGSI-LD (#15): generic entities written through /ngsi-ld/v1 (places are written through their API)
    NGSILD_ENTITY_WRITE = "ngsild.entity.write"
    NGSILD_SUBSCRIBE = "ngsild.subscription.manage"  # subscriptions notifying an integrator's endpoint


# --- targets -------------------------------------------------------------------------------------


@runtime_checkable
class HasId(Protocol):
    @property
    def id(self) -> Any: ...


@runtime_checkable
class AgencyHeld(Protocol):
    """Something held by an agency (a case)."""

    @property
    def agency_id(self) -> int | None: ...


@runtime_checkable
class Reported(Protocol):
    """Something a citizen reported (a case)."""

    @property
    def reporter_id(self) -> int | None: ...


@runtime_checkable
class ThingBound(Protocol):
    """Something that belongs to a SensorThings Thing (a datastream, an observation batch)."""

    @property
    def thing_id(self) -> int | None: ...


# --- predicates: (principal, target) -> bool ----------------------------------------------------

Rule = Callable[[Principal, Any], bool]


def anyone(p: Principal, t: Any) -> bool:
    return True


def nobody(p: Principal, t: Any) -> bool:
    return False


def signed_in(p: Principal, t: Any) -> bool:
    return p.is_user


def roles(*allowed: Role) -> Rule:
    wanted = frozenset(allowed)

    def rule(p: Principal, t: Any) -> bool:
        return p.is_user and p.role in wanted

    rule.__name__ = "roles(" + ",".join(r.value for r in allowed) + ")"
    return rule


def scope(wanted: ApiScope) -> Rule:
    def rule(p: Principal, t: Any) -> bool:
        return p.kind is PrincipalKind.API_KEY and wanted in p.scopes

    rule.__name__ = f"scope({wanted.value})"
    return rule


def any_of(*rules: Rule) -> Rule:
    def rule(p: Principal, t: Any) -> bool:
        return any(r(p, t) for r in rules)

    rule.__name__ = "any_of(" + ",".join(r.__name__ for r in rules) + ")"
    return rule


def all_of(*rules: Rule) -> Rule:
    def rule(p: Principal, t: Any) -> bool:
        return all(r(p, t) for r in rules)

    rule.__name__ = "all_of(" + ",".join(r.__name__ for r in rules) + ")"
    return rule


def is_self(p: Principal, t: Any) -> bool:
    """The target is the principal's own user record."""
    return p.is_user and isinstance(t, HasId) and t.id == p.user_id


def member_of_holding_agency(p: Principal, t: Any) -> bool:
    """An officer/supervisor of the agency that holds the target (a case)."""
    return (
        p.is_user
        and p.role in (Role.OFFICER, Role.SUPERVISOR)
        and isinstance(t, AgencyHeld)
        and t.agency_id is not None
        and t.agency_id in p.agency_ids
    )


def is_reporter(p: Principal, t: Any) -> bool:
    """The signed-in citizen who reported the target."""
    return p.is_user and isinstance(t, Reported) and t.reporter_id is not None and t.reporter_id == p.user_id


def supervisor_of_holding_agency(p: Principal, t: Any) -> bool:
    return p.role is Role.SUPERVISOR and member_of_holding_agency(p, t)


def own_thing(p: Principal, t: Any) -> bool:
    """An API key limited to one Thing may only touch that Thing; an unlimited key any Thing."""
    if p.thing_id is None:
        return True
    return isinstance(t, ThingBound) and t.thing_id == p.thing_id


ADMIN = roles(Role.ADMIN)
STAFF = roles(Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMIN)
IOC = roles(Role.OPERATOR, Role.ADMIN, Role.SUPERVISOR)


# --- the table ---------------------------------------------------------------------------------

RULES: dict[Action, Rule] = {
    # identity
    Action.AUTH_ME: signed_in,
    Action.USER_LIST: ADMIN,
    Action.USER_VIEW: any_of(ADMIN, is_self),
    Action.USER_CREATE: ADMIN,
    Action.USER_UPDATE: ADMIN,
    Action.AGENCY_LIST: anyone,
    Action.AGENCY_CREATE: ADMIN,
    Action.AGENCY_UPDATE: ADMIN,
    Action.JURISDICTION_MANAGE: ADMIN,
    Action.API_KEY_LIST: ADMIN,
    Action.API_KEY_CREATE: ADMIN,
    Action.API_KEY_REVOKE: ADMIN,
    Action.API_KEY_QUOTA: ADMIN,
    Action.WEBHOOK_MANAGE: ADMIN,
    # audit
    Action.AUDIT_READ: ADMIN,
    # areas
    Action.AREA_READ: anyone,
    Action.AREA_IMPORT: ADMIN,
    Action.AREA_POPULATION_ENTER: ADMIN,  # the denominators of every per-capita indicator
    Action.AREA_ROLLOUT_MANAGE: ADMIN,
    Action.CATEGORY_MANAGE: ADMIN,
    Action.CROP_TOLERANCE_MANAGE: ADMIN,
    # places: the registry is the IOC's (operators keep it current, admins load it); staff-only parts are
    # for every staff role, never citizens or anonymous callers (an integrator's read key included)
    Action.PLACE_READ: anyone,
    Action.PLACE_VIEW_STAFF: STAFF,
    Action.PLACE_MANAGE: roles(Role.OPERATOR, Role.ADMIN),
    Action.PLACE_STATUS: roles(Role.OPERATOR, Role.ADMIN),
    Action.PROGRAMME_READ: anyone,
    Action.PROGRAMME_MANAGE: ADMIN,
    # cases. The IOC operator classifies and routes every case (Hue-S model), so handles them all;
    # the admin runs the system and does not see reporters' personal data.
    Action.CASE_CREATE: anyone,  # anonymous reports are allowed (reporter identity optional)
    Action.CASE_VIEW: anyone,
    # a restricted category's case (public order): the agency holding it (the police) and the IOC operator only
    Action.CASE_VIEW_RESTRICTED: any_of(member_of_holding_agency, roles(Role.OPERATOR)),
    # its hotspot map: staff see every cell; everyone else only cells of at least k cases (public_order/hotspots.py)
    Action.HOTSPOT_VIEW_FULL: STAFF,
    Action.CASE_VIEW_PERSONAL: any_of(member_of_holding_agency, roles(Role.OPERATOR), is_reporter),
    Action.CASE_TRANSITION: any_of(member_of_holding_agency, roles(Role.OPERATOR)),
    Action.CASE_ASSIGN: any_of(supervisor_of_holding_agency, roles(Role.OPERATOR)),
    Action.CASE_APPROVE_EXTENSION: any_of(supervisor_of_holding_agency, roles(Role.OPERATOR)),
    Action.CASE_MODERATE: any_of(supervisor_of_holding_agency, roles(Role.OPERATOR, Role.ADMIN)),
    Action.OPEN311_SUBMIT: scope(ApiScope.OPEN311),
    Action.CASE_REOPEN: any_of(member_of_holding_agency, roles(Role.OPERATOR), is_reporter),
    Action.CASE_RATE: is_reporter,
    # sensing
    Action.SENSING_INGEST: any_of(all_of(scope(ApiScope.INGEST), own_thing), ADMIN),
    Action.SENSING_READ: any_of(scope(ApiScope.READ), scope(ApiScope.INGEST), STAFF),
    Action.SENSING_MANAGE: roles(Role.OPERATOR, Role.ADMIN),
    # alerts / IOC
    Action.ALERT_MANAGE: IOC,
    Action.ALERT_RULE_MANAGE: ADMIN,
    Action.ALERT_SUBSCRIBE: signed_in,
    Action.PUSH_SUBSCRIBE: anyone,  # the device proves itself with its unguessable key afterwards
    Action.IOC_VIEW: any_of(IOC, roles(Role.OFFICER), scope(ApiScope.READ)),
    Action.IOC_VIEW_STAFF: STAFF,
    # indicators: the IOC operator compiles the entered figures; targets are the administration's decision
    Action.INDICATOR_ENTER: roles(Role.OPERATOR, Role.ADMIN),
    Action.INDICATOR_TARGET: ADMIN,
    # dossiers: only the one-stop-shop system's own key writes (not an ingest or read key); admins import files
    Action.DOSSIER_PUSH: any_of(scope(ApiScope.DOSSIERS), ADMIN),
    Action.DOSSIER_IMPORT: ADMIN,
    Action.DOSSIER_LOOKUP: anyone,
    Action.DOSSIER_VIEW: any_of(STAFF, scope(ApiScope.DOSSIERS)),
    # NGSI-LD: the IOC (operators, admins) and integrators' ingest keys write entities; staff and read/ingest
    # keys subscribe (notifications carry only what the public entity view shows)
    Action.NGSILD_ENTITY_WRITE: any_of(roles(Role.OPERATOR, Role.ADMIN), scope(ApiScope.INGEST)),
    Action.NGSILD_SUBSCRIBE: any_of(STAFF, scope(ApiScope.READ), scope(ApiScope.INGEST)),
}


def can(principal: Principal, action: Action | str, target: Any = None) -> bool:
    """True when ``principal`` may do ``action`` (on ``target``). Unknown actions are denied."""
    try:
        rule = RULES[Action(action)]
    except ValueError:
        return False
    return rule(principal, target)


def authorize(principal: Principal, action: Action | str, target: Any = None) -> None:
    """Return quietly when allowed; raise 401 for an anonymous principal, 403 for anyone else."""
    if can(principal, action, target):
        return
    if principal.is_anonymous:
        raise Unauthorized("Sign in to do this", details={"action": str(action)})
    raise Forbidden("You are not allowed to do this", details={"action": str(action)})


def allowed_actions(principal: Principal, actions: Iterable[Action] = tuple(Action)) -> list[Action]:
    """The actions ``principal`` may do without a target (for UIs that hide what the user cannot use)."""
    return [a for a in actions if can(principal, a)]
