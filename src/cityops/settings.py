"""All configuration, in one pydantic-settings class.

Values come from ``CITYOPS_*`` environment variables or a ``.env`` file. Every field carries a
description: ``docs/configuration.md`` is generated from them and a test fails when one is missing.
Build settings with :func:`load_settings` (never at import time) so tests can override them.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - the known default refused outside dev


# Production secrets: judged by length and estimated entropy, not against a list of known values.
SECRET_MIN_LENGTH = 32
SECRET_MIN_BITS = 112


def secret_weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak for production, or None.

    The estimate is the string's length times its per-character Shannon entropy: a random 32-byte
    token (``token_urlsafe``, ``openssl rand -hex 32``) scores 200+ bits, a repeated or keyboard-walk
    string scores little. The development default (in any spelling) and runs of neighbouring
    characters (``abcdef…``, ``aaaa…``) are refused outright.
    """
    text = secret.strip()
    if DEV_SECRET.replace("-", "") in text.lower().replace("-", "").replace(" ", ""):
        return "it contains the development default"
    if len(text) < SECRET_MIN_LENGTH:
        return f"it has {len(text)} characters, at least {SECRET_MIN_LENGTH} are needed"
    counts = Counter(text)
    per_char = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    bits = per_char * len(text)
    if bits < SECRET_MIN_BITS:
        return f"its estimated entropy is {bits:.0f} bits, at least {SECRET_MIN_BITS} are needed"
    walks = sum(abs(ord(a) - ord(b)) <= 1 for a, b in itertools.pairwise(text))
    if walks * 2 > len(text) - 1:
        return "it is mostly runs of neighbouring characters"
    return None


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PRODUCTION = "production"


class BusKind(StrEnum):
    MEMORY = "memory"
    NATS = "nats"


class SettingsError(RuntimeError):
    """Raised with a readable message when the configuration is invalid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_", env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    env: Environment = Field(
        Environment.DEV,
        description="Deployment mode: `dev` (demo passwords printed, OTP codes logged), `test`, or `production`.",
    )
    data_dir: Path = Field(
        Path("var"), description="Directory for the embedded SQLite database, media files and backups."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/db`. "
        "Empty means SQLite at `<data_dir>/cityops.sqlite3`.",
    )
    database_pool_size: int = Field(10, ge=1, description="Connection pool size on PostgreSQL.")
    database_replica_urls: str = Field(
        "",
        description="Comma-separated SQLAlchemy URLs of PostgreSQL streaming replicas; read-only routes (STA "
        "GETs, latest values, aggregates, IOC, indicators) read from them, round robin, except for a caller "
        "who wrote lately until a replica has replayed that write (read-your-writes: docs/deployment.md). "
        "Empty: every query goes to `database_url`.",
    )
    database_read_your_writes_seconds: int = Field(
        60,
        ge=1,
        description="Lifetime of the `cityops_lsn` cookie a write sets, so the writer's next reads wait for "
        "(or skip) a replica that has not replayed the write yet.",
    )
    secret_key: str = Field(
        DEV_SECRET,
        min_length=16,
        description="Secret used to sign CSRF tokens and derive keyed hashes. Production refuses a weak one: at "
        "least 32 characters and about 112 bits of estimated entropy (e.g. `secrets.token_urlsafe(48)`).",
    )
    host: str = Field("127.0.0.1", description="Address `cityops serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `cityops serve` listens on.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Worker processes `cityops serve` runs (`--workers` overrides); about one per core "
        "uses every core (one Python process uses one). Several workers work on SQLite (WAL) and "
        "PostgreSQL; set `CITYOPS_BUS=nats` with more than one so every worker's consumers see every "
        "event, and size the PostgreSQL connections as `workers × 2 × database_pool_size`.",
    )
    public_url: str = Field(
        "",
        description="External base URL of links (STA selfLinks, `Location`, media, Open311), e.g. "
        "`https://ioc.tayninh.gov.vn`; empty: each link follows the request (its scheme, host and port, "
        "as forwarded by a trusted proxy). Links made outside a request (MQTT) then use `host`:`port`.",
    )
    trusted_proxies: str = Field(
        "127.0.0.1, ::1",
        description="Addresses or networks (comma-separated, e.g. `127.0.0.1, 10.0.0.0/8`) of the reverse "
        "proxies whose `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-For` are believed (links, "
        "per-IP limits, HSTS); from any other address those headers are ignored. Empty: no proxy.",
    )
    timezone: str = Field(
        "Asia/Ho_Chi_Minh", description="Local time zone for display and working calendars."
    )
    default_locale: str = Field("vi", description="Default UI language (`vi` or `en`).")
    demo_history_days: int = Field(
        365,
        ge=0,
        le=3650,
        description="Days of hourly simulated station history `cityops demo` stores before the last, detailed day "
        "(what the demo's monthly indicators and forecasts are computed from; 0: the last day only).",
    )
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(False, description="Write logs as one JSON object per line.")
    bus: BusKind = Field(
        BusKind.MEMORY, description="Event bus: `memory` (in-process) or `nats` (JetStream)."
    )
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server URL when `bus=nats`.")
    nats_stream: str = Field("CITYOPS", description="JetStream stream that carries cityops events.")
    nats_subject_prefix: str = Field(
        "cityops",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        description="Prefix of every NATS subject cityops publishes (the stream carries `<prefix>.>`).",
    )
    nats_max_age_days: float = Field(
        7, gt=0, description="How long the JetStream stream keeps events, in days."
    )
    bus_ack_wait_seconds: float = Field(
        30, gt=0, description="Seconds a consumer has to handle an event before it is delivered again."
    )
    bus_max_deliver: int = Field(
        5,
        ge=1,
        description="Deliveries of one event to a failing consumer before it is dead-lettered (logged).",
    )
    run_consumers: bool = Field(
        True,
        description="Run the declared event consumers and background tasks in this process. Set false for "
        "API workers when the consumers run as processes of their own (`cityops events consume`).",
    )
    outbox_sweep_seconds: float = Field(
        5, gt=0, description="Interval of the outbox relay's periodic sweep for events not yet published."
    )
    outbox_retention_hours: float = Field(
        72, gt=0, description="Published outbox rows older than this are pruned, in hours."
    )
    mqtt_url: str | None = Field(
        None, description="MQTT broker URL (e.g. `mqtt://127.0.0.1:1883`); empty disables MQTT."
    )
    mqtt_client_id: str = Field(
        "cityops",
        min_length=1,
        max_length=128,
        description="MQTT client id of the cityops subscriber. Fixed, with a persistent session, so the "
        "broker keeps QoS 1 messages published while cityops is down; give each cityops node its own id.",
    )
    mqtt_topic_prefix: str = Field(
        "",
        description="Prefix put before every MQTT topic cityops uses (e.g. `tayninh/` gives "
        "`tayninh/v1.1/Datastreams(1)/Observations`); empty for the plain SensorThings topics.",
    )
    mqtt_max_attempts: int = Field(
        5,
        ge=1,
        description="Deliveries of one MQTT message that cityops failed to store (for a reason of its own, "
        "not bad input) before it is parked in `mqtt_dead_letters` and acknowledged, so a poison message is "
        "not redelivered forever. While the database is down nothing can be parked: messages stay with "
        "the broker.",
    )
    mqtt_share_group: str | None = Field(
        None,
        pattern=r"^[^/+#\s]+$",
        description="MQTT share group of the ingest subscription: every cityops process (all `--workers`, "
        "on every node) subscribes to `$share/<group>/…` and the broker splits the messages between them "
        "(Mosquitto ≥ 2.0). Empty: one subscriber per node. See docs/deployment.md, 'Scaling out'.",
    )
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        "5",
        description="MQTT version of the cityops client: `5` (Mosquitto ≥ 2), or `3.1.1` for brokers without "
        "MQTT 5 such as NATS' MQTT listener (tier 3); a share group always uses 3.1.1.",
    )
    mqtt_publish_entities: bool = Field(
        True,
        description="Publish each new Observation (rendered as in STA, with `@iot.id`) to "
        "`v1.1/Datastreams(<id>)/Observations` and `v1.1/Observations` for MQTT subscribers.",
    )
    token_ttl_minutes: int = Field(
        60 * 12, ge=1, description="Lifetime of bearer tokens and browser sessions, in minutes."
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed logins allowed per account from one client IP, and per client IP, within the "
        "throttle window (then 429 for that pair or that IP only).",
    )
    login_window_seconds: int = Field(900, ge=1, description="Login throttle window, in seconds.")
    login_account_backoff_after: int = Field(
        20,
        ge=1,
        description="Failed logins to one account from every address together within the window after which "
        "each further attempt waits (a back-off doubling per failure, never a lock-out).",
    )
    login_backoff_max_seconds: int = Field(
        60, ge=1, description="The longest wait the per-account back-off imposes, in seconds."
    )
    cookie_secure: bool = Field(
        False, description="Mark session cookies `Secure` (set when served over HTTPS)."
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (JSON list).")
    load_demo: bool = Field(True, description="Let `make run` load the pilot demo data on first start.")
    reports_duplicate_radius_m: float = Field(
        250.0,
        gt=0,
        description="Citizen reports: radius (metres) for duplicate suggestions of the same category.",
    )
    reports_reopen_days: int = Field(
        14, ge=0, description="Citizen reports: days after resolution during which the reporter may reopen."
    )
    reports_ack_hours: float = Field(
        8.0, gt=0, description="Citizen reports: working hours allowed to acknowledge a new case."
    )
    reports_urgent_hours: float = Field(
        4.0, gt=0, description="Citizen reports: working hours allowed to handle an urgent case."
    )
    reports_warning_fraction: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="Citizen reports: share of the handling time after which an SLA warning is sent.",
    )
    reports_reference_prefix: str = Field(
        "PA", description="Citizen reports: prefix of public case references (`PA-2026-000123`)."
    )
    reports_max_photos: int = Field(5, ge=0, description="Citizen reports: photos allowed per submission.")

    # Working calendar (cityops.workcalendar) used for SLA deadlines.
    workday_periods: list[str] = Field(
        default_factory=lambda: ["07:30-11:30", "13:30-17:00"],
        description="Working periods of a working day in local time, as `HH:MM-HH:MM` strings (JSON list).",
    )
    extra_days_off: list[str] = Field(
        default_factory=list,
        description="Extra days off on top of the public holidays of the `holidays` package "
        "(government-announced bridges, local holidays), as dd/mm/yyyy or ISO dates (JSON list).",
    )
    makeup_workdays: list[str] = Field(
        default_factory=list,
        description="Weekend days that are working days (make-up days for a bridge holiday), "
        "as dd/mm/yyyy or ISO dates (JSON list).",
    )
    # Media store (cityops.media).
    media_max_photo_bytes: int = Field(
        15 * 1024 * 1024, ge=1, description="Largest photo upload accepted, in bytes."
    )
    media_max_video_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest (short) video upload accepted, in bytes."
    )
    media_max_pixels: int = Field(
        40_000_000,
        ge=1,
        description="Largest photo accepted, in pixels (width x height); refuses decompression bombs.",
    )
    media_thumbnail_px: int = Field(
        320, ge=16, description="Longest side of the JPEG thumbnails made for photos, in pixels."
    )
    # Notifications (cityops.notify).
    sms_gateway_url: str | None = Field(
        None,
        description="HTTP SMS gateway: cityops POSTs JSON `{to, text}` here; empty disables SMS "
        "(in dev and test, messages are logged instead).",
    )
    sms_gateway_token: str | None = Field(
        None, description="Bearer token sent to the SMS gateway (`Authorization: Bearer ...`)."
    )
    smtp_host: str | None = Field(
        None, description="SMTP server for e-mail notifications; empty disables e-mail."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(None, description="SMTP login user; empty means no login.")
    smtp_password: str | None = Field(None, description="SMTP login password.")
    smtp_starttls: bool = Field(True, description="Use STARTTLS on the SMTP connection.")
    smtp_from: str = Field("cityops@localhost", description="Sender address of notification e-mails.")
    webpush_vapid_private_key: str | None = Field(
        None,
        description="VAPID private key for Web Push (raw P-256 key, base64url: `cityops push keys --new`); "
        "empty means the key in `<data_dir>/webpush-vapid.key`, generated on first use (see docs/webpush.md).",
    )
    webpush_vapid_subject: str = Field(
        "mailto:admin@localhost", description="VAPID subject (`mailto:` or `https:` URL) for Web Push."
    )
    basemap_tile_url: str | None = Field(
        None,
        description="Raster tile URL template (`{z}/{x}/{y}`) of a tile server the province runs, served from this "
        "site's origin (a reverse-proxied path such as `/tiles/{z}/{x}/{y}.png`); empty: the PMTiles archive "
        "imported with `cityops basemap import`, else no base map (see docs/basemap.md).",
    )
    basemap_attribution: str = Field(
        "",
        max_length=300,
        description="Attribution shown on maps for the base map (its licence may require it).",
    )
    notify_max_attempts: int = Field(
        5, ge=1, description="Delivery attempts per notification before it is marked `failed` for good."
    )
    notify_retry_seconds: int = Field(
        60, ge=1, description="Delay before the first retry of a failed delivery; doubles on each attempt."
    )
    otp_ttl_seconds: int = Field(300, ge=30, description="Lifetime of a sign-in one-time code, in seconds.")
    otp_max_attempts: int = Field(5, ge=1, description="Wrong entries allowed for one one-time code.")
    otp_max_per_hour: int = Field(
        5, ge=1, description="One-time codes sent to one phone number per hour at most."
    )
    reports_codes_per_address_per_hour: int = Field(
        3,
        ge=1,
        description="Confirmation codes sent to one phone number or e-mail address per hour when someone "
        "subscribes it to a case's updates (a typed address is followed only once confirmed).",
    )
    reports_codes_per_client_per_hour: int = Field(
        10, ge=1, description="Subscription confirmation codes one client IP may request per hour."
    )
    reports_address_subscriptions_per_case: int = Field(
        20, ge=1, description="Phone numbers and e-mail addresses that may follow one case."
    )
    # Personal data (cityops.privacy).
    privacy_retention_days: int = Field(
        730,
        ge=1,
        description="Days after a case is closed, rejected or resolved before the retention sweep removes "
        "its reporters' names, phone numbers, e-mail addresses and account links, and its exact address "
        "(the case itself stays, anonymous); finished notification deliveries and one-time codes older "
        "than this are deleted.",
    )
    privacy_sweep_hours: float = Field(
        24.0,
        gt=0,
        description="How often the server runs the retention sweep (`cityops privacy sweep`), in hours.",
    )
    # Security middleware (cityops.security): body limits, per-IP rate limits, headers.
    security_json_max_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body accepted by routes without a larger limit (JSON, forms), "
        "in bytes; bigger bodies get 413.",
    )
    security_bulk_max_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest body of a SensorThings `CreateObservations` (dataArray) request, in bytes.",
    )
    sta_batch_max_requests: int = Field(
        200,
        ge=1,
        le=10_000,
        description="Most requests in one SensorThings `$batch` (each request of a change set counts); "
        "a bigger batch gets 413 and runs nothing. Its body is capped by `security_json_max_bytes`.",
    )
    sta_query_max_entities: int = Field(
        20_000,
        ge=100,
        description="Most entities one SensorThings read may load, summed over the page and every "
        "`$expand` level (a `$batch` shares one budget); above it the read stops and answers 400 "
        "`query_too_many_entities` (ask for a smaller `$top` or fewer levels and follow the nextLinks).",
    )
    sta_query_max_bytes: int = Field(
        32 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest SensorThings read answer in bytes, counted while it is rendered; above it "
        "the read stops and answers 400 `query_too_large`.",
    )
    sta_query_seconds: float = Field(
        10.0,
        gt=0,
        description="Time one SensorThings read (or the reads of one `$batch`) may take, queries "
        "included (interrupted in the database); above it the read answers 400 `query_too_slow`.",
    )
    security_submit_per_ip_per_hour: int = Field(
        30,
        ge=1,
        description="Anonymous report submissions accepted from one client IP per hour (429 with "
        "`Retry-After` above). Counted in each process unless `security_rate_limit_redis_url` is set.",
    )
    security_upload_per_ip_per_hour: int = Field(
        120,
        ge=1,
        description="Anonymous report photo/video uploads accepted from one client IP per hour.",
    )
    security_otp_per_ip_per_hour: int = Field(
        20,
        ge=1,
        description="One-time sign-in codes requested from one client IP per hour (the per-phone limit "
        "is `otp_max_per_hour`).",
    )
    security_rate_limit_redis_url: str = Field(
        "",
        description="Redis URL (e.g. `redis://127.0.0.1:6379/0`) where every worker and node counts the per-IP "
        "limits together; empty: each process counts alone (right for one worker). If Redis is unreachable "
        "a process falls back to its own counts.",
    )
    security_contact: str = Field(
        "",
        description="Where to report a vulnerability in this deployment, as URIs separated by commas (e.g. "
        "`mailto:attt@tayninh.gov.vn, https://soc.example.vn/report`); published in "
        "`/.well-known/security.txt` (RFC 9116), which answers 404 while this is empty.",
    )
    security_policy_url: str = Field(
        "",
        description="Optional URL of the deployment's vulnerability disclosure policy, added to security.txt.",
    )
    security_hsts_seconds: int = Field(
        31_536_000,
        ge=0,
        description="`Strict-Transport-Security` max-age, sent on requests that came over HTTPS (directly "
        "or `X-Forwarded-Proto: https`) and on every request when `cookie_secure` is set; 0 disables.",
    )
    dossier_lookups_per_client_per_hour: int = Field(
        30,
        ge=1,
        description="Dossier status lookups (tra cứu hồ sơ) one client address may make per hour (429 with "
        "`Retry-After` above); counted in the database, so every worker agrees.",
    )
    dossier_failures_per_code_per_hour: int = Field(
        5,
        ge=1,
        description="Failed lookups of one dossier code per hour, from every address together (a wrong "
        "second factor or an unknown code); above it that code answers 429 for the rest of the hour.",
    )

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            weakness = secret_weakness(self.secret_key)
            if weakness:
                raise ValueError(
                    f"CITYOPS_SECRET_KEY is too weak for production: {weakness}. Use a long random value, "
                    "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cityops.sqlite3').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus ``overrides``; raise :class:`SettingsError` on bad values."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            env_name = f"CITYOPS_{name.upper()}" if err["loc"] else name
            lines.append(f"  {env_name}: {err['msg']}")
        raise SettingsError("Invalid cityops configuration:\n" + "\n".join(lines)) from None
