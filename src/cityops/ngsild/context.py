"""@context handling: the ETSI core contexts shipped in the package and served locally, the Link header,
strict media types, and remote user contexts fetched with a timeout and cached (never at start-up)."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from functools import cache
from importlib import resources
from typing import Any

from fastapi import Request

from cityops.ngsild.errors import BadRequestData, LdContextNotAvailable, NotAcceptable, UnsupportedMediaType

VERSIONS = ("1.6", "1.8", "1.9")
DEFAULT_VERSION = "1.8"
ETSI = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v{v}.jsonld"
ETSI_ALIASES = {ETSI.format(v=v): v for v in VERSIONS} | {
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld": "1.8"
}
LOCAL_PATH = "/ngsi-ld/contexts/ngsi-ld-core-context-v{v}.jsonld"
JSON = "application/json"
LD_JSON = "application/ld+json"
MERGE_PATCH = "application/merge-patch+json"
LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"'
FETCH_TIMEOUT = 3.0
CACHE_SECONDS = 3600.0
_remote: dict[str, tuple[float, Any]] = {}
_lock = threading.Lock()


@cache
def core_context(version: str) -> dict[str, Any]:
    """The core context of ``version`` as shipped in ``cityops/ngsild/contexts``."""
    text = (
        resources.files("cityops.ngsild")
        .joinpath(f"contexts/ngsi-ld-core-context-v{version}.jsonld")
        .read_text()
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def core_url(request: Request, version: str = DEFAULT_VERSION) -> str:
    """The URL at which this server serves the core context (what responses link to)."""
    return str(request.base_url).rstrip("/") + LOCAL_PATH.format(v=version)


def is_core(url: str) -> bool:
    return (
        url in ETSI_ALIASES
        or re.search(r"/ngsi-ld/contexts/ngsi-ld-core-context-v[0-9.]+\.jsonld$", url) is not None
    )


def resolve(url: str) -> Any:
    """The content of a context URL: the core contexts from the package, others fetched (timeout, cached).
    An unreachable or unparsable context raises 503 LdContextNotAvailable naming the URL."""
    if url in ETSI_ALIASES:
        return core_context(ETSI_ALIASES[url])
    m = re.search(r"/ngsi-ld/contexts/ngsi-ld-core-context-v([0-9.]+)\.jsonld$", url)
    if m and m.group(1) in VERSIONS:
        return core_context(m.group(1))
    if not url.startswith(("http://", "https://")):
        raise BadRequestData(f"@context {url!r} is not an http(s) URL")
    now = time.monotonic()
    with _lock:
        hit = _remote.get(url)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    try:
        req = urllib.request.Request(url, headers={"Accept": f"{LD_JSON}, {JSON}"})  # noqa: S310 (http(s) only)
        with urllib.request.urlopen(req, timeout=FETCH_TIMEOUT) as resp:  # noqa: S310 (http(s) only, checked)
            content = json.loads(resp.read(1_000_001))
    except (OSError, ValueError) as exc:
        raise LdContextNotAvailable(f"@context {url} could not be fetched: {exc}", url=url) from exc
    with _lock:
        _remote[url] = (now, content)
    return content


def check_contexts(context: Any) -> None:
    """Resolve every URL in a payload's ``@context`` (a string, a list or an inline object)."""
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, str):
            resolve(item)
        elif not isinstance(item, dict):
            raise BadRequestData("@context must be a URL, an object or a list of them")


def link_context(request: Request) -> str | None:
    """The context URL of a ``Link`` header (rel json-ld#context), if any."""
    link = request.headers.get("link")
    if not link:
        return None
    for part in link.split(","):
        if "json-ld#context" in part:
            m = re.search(r"<([^>]+)>", part)
            if m:
                return m.group(1)
    raise BadRequestData("Link header without a JSON-LD context URL")


def request_context(request: Request, body: dict[str, Any] | None = None) -> Any:
    """The @context a request uses (body for ld+json, Link header for json), every remote one resolved.
    Checks the strict media-type rules: ld+json needs @context in the body and no Link header."""
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    link = link_context(request)
    if body is not None and ctype == LD_JSON:
        if "@context" not in body:
            raise BadRequestData("application/ld+json payload without @context")
        if link:
            raise BadRequestData("application/ld+json with a Link header: give the @context in one place")
        check_contexts(body["@context"])
        return body["@context"]
    if body is not None and "@context" in body:
        raise BadRequestData(
            "@context in an application/json payload: use application/ld+json or a Link header"
        )
    if link:
        resolve(link)
        return link
    return None


def check_content_type(request: Request, allowed: tuple[str, ...] = (JSON, LD_JSON)) -> None:
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {ctype or '(none)'} not supported; use {' or '.join(allowed)}"
        )


def response_type(request: Request) -> str:
    """``application/json`` or ``application/ld+json`` as the Accept header asks; 406 for anything else."""
    accept = request.headers.get("accept") or "*/*"
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        bits = [b.strip() for b in part.split(";")]
        mtype, q = bits[0].lower(), 1.0
        for b in bits[1:]:
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        choice = {
            LD_JSON: LD_JSON,
            JSON: JSON,
            "application/*": JSON,
            "*/*": JSON,
            "application/geo+json": "",
        }.get(mtype)
        if choice and q > 0 and (best is None or q > best[0]):
            best = (q, choice)
    if best is None:
        raise NotAcceptable(f"Accept {accept!r}: this API answers application/json or application/ld+json")
    return best[1]


def link_header(url: str) -> str:
    return f'<{url}>; {LINK_REL}; type="{LD_JSON}"'
