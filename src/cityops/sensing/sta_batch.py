"""Batch requests at ``POST /sta/v1.1/$batch`` (OGC 18-088 §12).

Two encodings, chosen by the request's ``Content-Type``:

``multipart/mixed; boundary=...`` (OData 4.0 Part 1 §11.7, what 18-088 specifies)
    Each part is one request (``Content-Type: application/http``: request line, headers, body) or a
    change set (a nested ``multipart/mixed`` holding only POST, PATCH, PUT and DELETE). The answer is
    ``multipart/mixed`` with one part per request or change set, in order, each holding the status line,
    headers and body. A change set is atomic: if one of its requests fails, nothing of it is kept and its
    answer is that one failure (``application/http``) instead of a nested multipart. Inside a change set
    a request can name an entity created earlier in it by ``$<Content-ID>``, as the start of its URL
    (``POST $1/Datastreams``) or as an ``@iot.id`` in its body (``{"Thing": {"@iot.id": "$1"}}``).
``application/json`` (OData 4.01 JSON batch, as FROST's JSON batch extension)
    ``{"requests": [{"id", "method", "url", "headers"?, "body"?, "atomicityGroup"?, "dependsOn"?}]}`` →
    ``{"responses": [{"id", "status", "headers", "body"?, "atomicityGroup"?}]}``. Adjacent requests with
    the same ``atomicityGroup`` are atomic; when one fails, the others of the group answer 424. A request
    whose ``dependsOn`` (request ids or groups) failed is not run and answers 424. ``$<id>`` references an
    entity created (or, as in FROST, fetched by a GET of one entity) by any earlier request of the batch.

Processing stops at the first failed request or change set (its failure is the last answer), unless
the batch is sent with ``Prefer: odata.continue-on-error`` (OData 4.0 §8.2.8.3; ``continue-on-error`` in
4.01), which the answer confirms with ``Preference-Applied``.

Inner URLs are relative to the service root (``Things(1)``) or absolute paths/URLs below it. Every inner
request is authorised as the caller of the batch, exactly as if it had been sent alone (credentials in an
inner request's headers are ignored); requests outside a change set commit one by one, so an earlier
success stays when a later one fails. ``CreateObservations`` may be an individual request but not part of
a change set (it commits its own rows). Errors of inner requests have the OData shape; a malformed batch
is refused as a whole with 400, and one of more than ``sta_batch_max_requests`` requests with 413.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from cityops.errors import ApiError
from cityops.sensing import sta_api
from cityops.sensing.sta_query import QueryBudget
from cityops.sensing.sta_write import bad
from cityops.settings import Settings

WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
REF = re.compile(r"^\$([A-Za-z0-9_.:,;-]+)")


@dataclass
class Inner:
    """One request of a batch."""

    method: str
    url: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    ident: str | None = None  # multipart Content-ID, JSON id
    group: str | None = None  # JSON atomicityGroup
    depends_on: list[str] = field(default_factory=list)


@dataclass
class ChangeSet:
    requests: list[Inner]


@dataclass
class Answer:
    """What one inner request got: status, headers and body, as a separate request would have."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    ident: str | None = None

    @classmethod
    def of(cls, response: Response, ident: str | None) -> Answer:
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return cls(response.status_code, headers, bytes(response.body), ident)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def batch_error(status: int, message: str, code: str = "bad_request") -> ApiError:
    return ApiError(status, message, code=code)


def run_batch(request: Request, session: Session, settings: Settings, body: bytes) -> Response:
    """Answer ``POST $batch``: parse all of it first (a malformed batch changes nothing), then run."""
    content_type = request.headers.get("content-type", "")
    runner = Runner(request, session, settings)
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/mixed":
        units = parse_multipart(body, content_type, settings.sta_batch_max_requests)
        return runner.multipart(units)
    if media == "application/json":
        return runner.json(parse_json_batch(body, settings.sta_batch_max_requests))
    raise ApiError(
        415,
        "A batch is multipart/mixed (OData 4.0) or application/json (OData 4.01 JSON batch)",
        code="unsupported_media_type",
    )


def _count(units: list[Inner | ChangeSet]) -> int:
    return sum(len(u.requests) if isinstance(u, ChangeSet) else 1 for u in units)


def _check_size(n: int, limit: int) -> None:
    if n == 0:
        raise bad("the batch holds no request")
    if n > limit:
        raise batch_error(413, f"a batch holds at most {limit} requests, this one {n}", "too_many_requests")


# --- multipart/mixed (OData 4.0) ---------------------------------------------------------------


def _boundary(content_type: str) -> bytes:
    m = re.search(r';\s*boundary=(?:"([^"]+)"|([^;\s]+))', content_type, flags=re.IGNORECASE)
    if not m:
        raise bad("multipart/mixed needs a boundary parameter")
    value = m.group(1) or m.group(2)
    if not 1 <= len(value) <= 70:
        raise bad("a multipart boundary is 1 to 70 characters")
    return value.encode("latin-1", "replace")


def _parts(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between ``--boundary`` delimiter lines (RFC 2046); preamble and epilogue are dropped."""
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|$)")
    found = list(delimiter.finditer(body))
    if not found or found[0].group(1):
        raise bad("the multipart body has no part (check the boundary)")
    parts: list[bytes] = []
    for here, after in itertools.pairwise(found):
        if here.group(1):
            break
        parts.append(body[here.end() : after.start()])
    if not any(m.group(1) for m in found):
        raise bad("the multipart body does not end with its closing boundary")
    return parts


def _headers_and_rest(chunk: bytes) -> tuple[list[str], bytes]:
    """Header lines (first line included) and what follows the blank line."""
    m = re.search(rb"\r?\n\r?\n", chunk)
    if chunk.startswith((b"\r\n", b"\n")):
        return [], chunk[2 if chunk.startswith(b"\r\n") else 1 :]
    head, rest = (chunk[: m.start()], chunk[m.end() :]) if m else (chunk, b"")
    try:
        lines = head.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise bad("multipart headers must be UTF-8 text") from exc
    return lines, rest


def _header_map(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise bad(f"invalid header line {line[:80]!r} in the batch")
        out[name.strip().lower()] = value.strip()
    return out


def _http_request(part_headers: dict[str, str], content: bytes) -> Inner:
    if not part_headers.get("content-type", "").lower().startswith("application/http"):
        raise bad("each batch request part needs Content-Type: application/http")
    lines, body = _headers_and_rest(content)
    if not lines:
        raise bad("a batch request part holds no request line")
    words = lines[0].strip().split(" ")
    if words[-1].startswith("HTTP/"):
        words = words[:-1]
    url = " ".join(words[1:]).strip()  # some clients leave the spaces of a $filter unencoded
    if len(words) < 2 or not words[0].isalpha() or not url:
        raise bad(f"invalid request line {lines[0][:80]!r} in the batch")
    headers = _header_map(lines[1:])
    ident = part_headers.get("content-id") or headers.get("content-id")
    return Inner(words[0].upper(), url, headers, body, ident=ident)


def parse_multipart(body: bytes, content_type: str, limit: int) -> list[Inner | ChangeSet]:
    units: list[Inner | ChangeSet] = []
    for part in _parts(body, _boundary(content_type)):
        lines, content = _headers_and_rest(part)
        headers = _header_map(lines)
        if headers.get("content-type", "").lower().startswith("multipart/mixed"):
            members = []
            for inner_part in _parts(content, _boundary(headers["content-type"])):
                inner_lines, inner_content = _headers_and_rest(inner_part)
                member = _http_request(_header_map(inner_lines), inner_content)
                if member.method not in WRITES:
                    raise bad(f"a change set holds only POST, PATCH, PUT and DELETE, not {member.method}")
                members.append(member)
            if not members:
                raise bad("a change set holds no request")
            ids = [m.ident for m in members if m.ident is not None]
            if len(ids) != len(set(ids)):
                raise bad("Content-IDs must be unique within a change set")
            units.append(ChangeSet(members))
        else:
            units.append(_http_request(headers, content))
    _check_size(_count(units), limit)
    return units


def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}".rstrip()


def _http_part(answer: Answer) -> bytes:
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if answer.ident is not None:
        head.append(f"Content-ID: {answer.ident}")
    lines = [_status_line(answer.status)] + [f"{k}: {v}" for k, v in answer.headers]
    if answer.body:
        lines.append(f"Content-Length: {len(answer.body)}")
    text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n"
    return text.encode() + answer.body


def _multipart(parts: list[tuple[bytes, bytes]], boundary: str) -> bytes:
    """``parts`` as (part headers, part content) between ``--boundary`` lines."""
    out = b""
    for head, content in parts:
        out += f"--{boundary}\r\n".encode() + head + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


# --- application/json (OData 4.01) -------------------------------------------------------------


def parse_json_batch(body: bytes, limit: int) -> list[Inner]:
    data = sta_api.parse_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("requests"), list):
        raise bad('a JSON batch is {"requests": [...]}')
    unknown = set(data) - {"requests"}
    if unknown:
        raise bad(f"unknown member(s) {sorted(unknown)} in the JSON batch")
    inners: list[Inner] = []
    seen: set[str] = set()
    groups_done: set[str] = set()
    for i, item in enumerate(data["requests"]):
        if not isinstance(item, dict):
            raise bad(f"requests[{i}] must be an object")
        extra = set(item) - {"id", "method", "url", "headers", "body", "atomicityGroup", "dependsOn"}
        if extra:
            raise bad(f"requests[{i}] has unknown member(s) {sorted(extra)}")
        ident, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(ident, str) or not REF.fullmatch("$" + ident):
            raise bad(f"requests[{i}].id must be a string of a-zA-Z0-9_.:,;-")
        if ident in seen:
            raise bad(f"request id {ident!r} is used twice")
        if not isinstance(method, str) or method.upper() not in WRITES | {"GET"}:
            raise bad(f"requests[{i}].method must be get, post, patch, put or delete")
        if not isinstance(url, str):
            raise bad(f"requests[{i}].url must be a string")
        headers = item.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise bad(f"requests[{i}].headers must be an object of strings")
        group = item.get("atomicityGroup")
        if group is not None and not isinstance(group, str):
            raise bad(f"requests[{i}].atomicityGroup must be a string")
        previous = inners[-1].group if inners else None
        if group is not None and group != previous and group in groups_done | seen:
            raise bad(
                f"the requests of atomicityGroup {group!r} must be adjacent (and not reuse a request id)"
            )
        if previous is not None and group != previous:
            groups_done.add(previous)
        if group is not None and method.upper() == "GET":
            raise bad("an atomicityGroup holds only post, patch, put and delete")
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise bad(f"requests[{i}].dependsOn must be an array of request ids")
        for d in depends:
            if d not in seen and d not in groups_done and d != previous:
                raise bad(f"requests[{i}].dependsOn names {d!r}, which is no earlier request or group")
        raw = item.get("body")
        if raw is None:
            content = b""
        elif isinstance(raw, str) and "json" not in headers.get("content-type", "application/json").lower():
            content = raw.encode()
        else:
            content = orjson.dumps(raw)
        lowered = {k.lower(): v for k, v in headers.items()}
        inners.append(Inner(method.upper(), url, lowered, content, ident, group, list(depends)))
        seen.add(ident)
    _check_size(len(inners), limit)
    return inners


# --- running ---------------------------------------------------------------------------------


def continue_on_error(prefer: str) -> bool:
    """``Prefer: odata.continue-on-error`` (OData 4.0) or ``continue-on-error[=true]`` (4.01)."""
    for token in prefer.split(","):
        name, _, value = token.strip().partition("=")
        if name.strip().lower() in {"odata.continue-on-error", "continue-on-error"}:
            return value.strip().strip('"').lower() in {"", "true"}
    return False


def _substitute(value: Any, refs: dict[str, tuple[str, int]]) -> Any:
    """``{"@iot.id": "$x"}`` → the id of the entity request ``x`` created."""
    if isinstance(value, list):
        return [_substitute(v, refs) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _substitute(v, refs) for k, v in value.items()}
    ident = out.get("@iot.id")
    if isinstance(ident, str) and ident.startswith("$"):
        if ident[1:] not in refs:
            raise bad(f"{ident} names no entity created earlier in this batch")
        out["@iot.id"] = refs[ident[1:]][1]
    return out


class Runner:
    def __init__(self, request: Request, session: Session, settings: Settings) -> None:
        self.request = request
        self.session = session
        self.settings = settings
        self.base = sta_api.service_root(request, settings)
        self.continue_on_error = continue_on_error(request.headers.get("prefer", ""))
        self._principal: Any = None
        self._auth_error: ApiError | None = None
        self.budget = QueryBudget.from_settings(settings)  # one for all the batch's reads

    def auth(self) -> Any:
        """The batch's caller, resolved once (a bad credential fails each write that needs it)."""
        if self._auth_error is not None:
            raise self._auth_error
        if self._principal is None:
            try:
                self._principal = sta_api._principal(self.request, self.session)
            except ApiError as err:
                self._auth_error = err
                raise
        return self._principal

    # --- one request -------------------------------------------------------------------------

    def _target(self, url: str, refs: dict[str, tuple[str, int]]) -> tuple[str, str]:
        """(path below the service root, query string) of an inner URL."""
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.scheme or parts.netloc or path.startswith("/"):
            root = urlsplit(self.base).path.rstrip("/")
            for prefix in (root, sta_api.PREFIX):
                if path == prefix or path.startswith(prefix + "/"):
                    path = path[len(prefix) :]
                    break
            else:
                raise ApiError(
                    404, f"{url[:200]} is not a resource of this SensorThings service", code="not_found"
                )
        path = path.lstrip("/")
        m = REF.match(path)
        if m:
            if m.group(1) not in refs:
                raise bad(f"${m.group(1)} names no entity created earlier in this batch")
            path = refs[m.group(1)][0] + path[m.end() :]
        return path, parts.query

    def execute(self, inner: Inner, refs: dict[str, tuple[str, int]], *, in_change_set: bool) -> Response:
        """Run one inner request (uncommitted); raises :class:`ApiError` as the route would."""
        path, query = self._target(inner.url, refs)
        if inner.method == "GET":
            if path == "":
                return sta_api.get_root(self.request, self.settings)
            return sta_api.read_resource(self.session, self.base, path, query, self.budget)
        body = self._body(inner, refs)
        if inner.method == "POST":
            if path.strip("/") == "CreateObservations":
                if in_change_set:
                    raise bad("CreateObservations cannot be part of a change set (it commits its own rows)")
                return sta_api.create_observations(
                    request=self.request, session=self.session, settings=self.settings, body=body
                )
            return sta_api.create_resource(
                self.session, self.base, path, body, self.auth, inner.headers.get("idempotency-key")
            )
        if inner.method in {"PATCH", "PUT"}:
            return sta_api.update_resource(
                self.session,
                self.base,
                path,
                body,
                self.auth,
                inner.headers.get("content-type", ""),
                replace=inner.method == "PUT",
            )
        if inner.method == "DELETE":
            return sta_api.delete_resource(self.session, path, self.auth)
        raise ApiError(405, f"{inner.method} is not a SensorThings method", code="method_not_allowed")

    @staticmethod
    def _body(inner: Inner, refs: dict[str, tuple[str, int]]) -> bytes:
        """The body with ``{"@iot.id": "$x"}`` references replaced by ids."""
        body = inner.body
        if inner.method in {"POST", "PATCH", "PUT"} and refs and body.strip():
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                return body  # the route reports it
            body = orjson.dumps(_substitute(parsed, refs))
        return body

    def _replay(self, inner: Inner, refs: dict[str, tuple[str, int]]) -> Response | None:
        """After losing a commit race on an Idempotency-Key: the winner's stored answer."""
        key = inner.headers.get("idempotency-key")
        if inner.method != "POST" or key is None:
            return None
        path, _query = self._target(inner.url, refs)
        return sta_api.create_resource_replay(self.session, path, self._body(inner, refs), self.auth, key)

    def error(self, err: ApiError, ident: str | None) -> Answer:
        return Answer.of(sta_api.sta_error_response(self.request, err), ident)

    def _guarded(
        self, run: Callable[[], Response], ident: str | None, replay: Callable[[], Response | None]
    ) -> Answer:
        """Run and commit one request alone; a failure rolls back only its own changes."""
        try:
            response = run()
            return Answer.of(sta_api.commit_create(self.session, response, replay), ident)
        except ApiError as err:
            self.session.rollback()
            return self.error(err, ident)
        except (DataError, OverflowError):
            self.session.rollback()
            return self.error(_out_of_range(), ident)
        except IntegrityError:
            self.session.rollback()
            return self.error(_conflict(), ident)

    def individual(self, inner: Inner, refs: dict[str, tuple[str, int]]) -> Answer:
        answer = self._guarded(
            lambda: self.execute(inner, refs, in_change_set=False),
            inner.ident,
            lambda: self._replay(inner, refs),
        )
        if inner.ident is not None and (inner.method, answer.status) in {("POST", 201), ("GET", 200)}:
            self._remember(answer, inner.ident, refs)  # created, or fetched (as FROST): either can be named
        return answer

    def atomic(
        self, members: list[Inner], refs: dict[str, tuple[str, int]]
    ) -> tuple[list[Answer], int | None]:
        """All of ``members`` in one transaction: (their answers, None), or on a failure everything is
        rolled back and (answers so far plus the failure, index of the failed request)."""
        answers: list[Answer] = []
        local = dict(refs)
        for i, inner in enumerate(members):
            try:
                answer = Answer.of(self.execute(inner, local, in_change_set=True), inner.ident)
            except ApiError as err:
                self.session.rollback()
                return [*answers, self.error(err, inner.ident)], i
            except (DataError, OverflowError):
                self.session.rollback()
                return [*answers, self.error(_out_of_range(), inner.ident)], i
            if inner.method == "POST" and inner.ident is not None:
                self._remember(answer, inner.ident, local)
            answers.append(answer)
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            return [*answers[:-1], self.error(_conflict(), members[-1].ident)], len(members) - 1
        refs.update(local)
        return answers, None

    @staticmethod
    def _remember(answer: Answer, ident: str, refs: dict[str, tuple[str, int]]) -> None:
        try:
            created = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            return
        link = created.get("@iot.selfLink") if isinstance(created, dict) else None
        if isinstance(link, str) and isinstance(created.get("@iot.id"), int):
            refs[ident] = (link.rsplit("/", 1)[-1], created["@iot.id"])

    # --- the two encodings ---------------------------------------------------------------------

    def multipart(self, units: list[Inner | ChangeSet]) -> Response:
        boundary = f"batchresponse_{uuid.uuid4()}"
        parts: list[tuple[bytes, bytes]] = []
        for unit in units:
            if isinstance(unit, Inner):
                answer = self.individual(unit, {})  # Content-IDs reach only within a change set
                head, _, content = _http_part(answer).partition(b"\r\n\r\n")
                parts.append((head + b"\r\n\r\n", content))
                if answer.status >= 400 and not self.continue_on_error:
                    break
                continue
            answers, failed = self.atomic(unit.requests, {})
            if failed is not None:
                head, _, content = _http_part(answers[failed]).partition(b"\r\n\r\n")
                parts.append((head + b"\r\n\r\n", content))
                if not self.continue_on_error:
                    break
                continue
            inner_boundary = f"changesetresponse_{uuid.uuid4()}"
            inner = []
            for a in answers:
                head, _, content = _http_part(a).partition(b"\r\n\r\n")
                inner.append((head + b"\r\n\r\n", content))
            head = f"Content-Type: multipart/mixed; boundary={inner_boundary}\r\n\r\n".encode()
            parts.append((head, _multipart(inner, inner_boundary)))
        return Response(
            _multipart(parts, boundary),
            status_code=200,
            media_type=f"multipart/mixed; boundary={boundary}",
            headers=self._applied(),
        )

    def _applied(self) -> dict[str, str]:
        return {"Preference-Applied": "odata.continue-on-error"} if self.continue_on_error else {}

    def json(self, inners: list[Inner]) -> Response:
        responses: list[dict[str, Any]] = []
        failed: set[str] = set()
        refs: dict[str, tuple[str, int]] = {}
        i = 0
        while i < len(inners):
            first = inners[i]
            members = [first]
            if first.group is not None:
                while i + len(members) < len(inners) and inners[i + len(members)].group == first.group:
                    members.append(inners[i + len(members)])
            i += len(members)
            blocked = next((d for m in members for d in m.depends_on if d in failed), None)
            if blocked is not None:
                err = ApiError(
                    424, f"not run: {blocked!r}, which it depends on, failed", code="failed_dependency"
                )
                answers = [self.error(err, m.ident) for m in members]
                failed_at: int | None = 0
            elif first.group is None:
                answers, failed_at = [self.individual(first, refs)], None
                if answers[0].status >= 400:
                    failed_at = 0
            else:
                answers, failed_at = self.atomic(members, refs)
                if failed_at is not None:
                    skipped = ApiError(
                        424,
                        f"atomicityGroup {first.group!r} failed at request {members[failed_at].ident!r}; "
                        "nothing of the group was kept",
                        code="failed_dependency",
                    )
                    answers = [
                        answers[failed_at] if k == failed_at else self.error(skipped, m.ident)
                        for k, m in enumerate(members)
                    ]
            if failed_at is not None:
                failed.update(m.ident for m in members if m.ident is not None)
                if first.group is not None:
                    failed.add(first.group)
            for member, answer in zip(members, answers, strict=True):
                responses.append(_json_answer(member, answer))
            if failed_at is not None and not self.continue_on_error:
                break
        return sta_api.json_response({"responses": responses}, headers=self._applied())


def _json_answer(inner: Inner, answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"id": inner.ident, "status": answer.status}
    if inner.group is not None:
        out["atomicityGroup"] = inner.group
    out["headers"] = {k.lower(): v for k, v in answer.headers}
    if answer.body:
        media = (answer.header("content-type") or "").lower()
        out["body"] = orjson.loads(answer.body) if "json" in media else answer.body.decode("utf-8", "replace")
    return out


def _out_of_range() -> ApiError:
    return ApiError(
        422, "A value in the request is out of range or not valid for its field", code="out_of_range"
    )


def _conflict() -> ApiError:
    return ApiError(
        409, "the change conflicts with a concurrent one; nothing of it was kept", code="conflict"
    )
