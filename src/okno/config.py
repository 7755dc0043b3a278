"""One settings class for the whole process (environment variables with the ``OKNO_`` prefix)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OKNO_", extra="ignore")

    data_dir: Path = Path(".okno")
    # Empty means the embedded default: SQLite (WAL) at ``<data_dir>/okno.db``.
    database_url: str = ""
    # Fernet keys (urlsafe base64, 32 bytes) for secrets at rest, newest first, comma-separated.
    # Empty: a key is generated once and kept in ``<data_dir>/secret.key``.
    secret_keys: str = ""
    # Public base URL used to build webhook URLs shown to admins; empty = taken from the request.
    public_url: str = ""
    default_region: str = "RU"
    # E-mail provider rules as a JSON list of {"domains": [...], "canonical_domain": "...",
    # "drop_dots": bool, "dash_is_dot": bool, "plus_tags": bool}; empty: the built-in table
    # (okno.customers.email_rules.DEFAULT_EMAIL_RULES).
    email_rules: str = ""

    token_ttl_hours: int = 12

    embedded_workers: bool = True
    ingest_batch_size: int = 100
    # run the pipeline inside the webhook's group-commit transaction (else: a processor drains it)
    ingest_inline: bool = True
    # `okno serve` beside `okno worker` (OKNO_EMBEDDED_WORKERS=false) on one machine: the serving
    # processes verify and parse webhooks and hand the items to the worker, which stores them
    # (okno.channels.handoff; <data_dir>/ingest.sock). Set it for both processes.
    ingest_by_worker: bool = False
    worker_poll_seconds: float = 1.0

    delivery_max_attempts: int = 8
    delivery_backoff_base_seconds: float = 2.0
    delivery_backoff_max_seconds: float = 600.0
    delivery_timeout_seconds: float = 10.0

    # a failing event subscriber is retried on its own this many times (backoff from the base
    # seconds, doubling), then parked for an admin
    outbox_max_attempts: int = 10
    event_retry_base_seconds: float = Field(default=2.0, ge=0)
    # durable jobs (matcher estimation, re-indexing): how long a worker holds one before another
    # may take it over, and how many run at once in one process
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_concurrency: int = Field(default=2, ge=1)

    # polling channels: after a failed poll, wait base·2^(failures-1) seconds (±20 %), at most max
    poll_backoff_base_seconds: float = Field(default=5.0, gt=0)
    poll_backoff_max_seconds: float = Field(default=900.0, gt=0)

    # Resolving or closing a conversation needs a closing reason (else the reason is optional).
    require_reason_to_resolve: bool = False
    # Close conversations left waiting for the customer (status type pending) this long; 0 = never.
    pending_auto_close_hours: float = Field(default=0.0, ge=0)

    # Serve the fake providers (loopback receivers that speak the real contracts) under /fake.
    fake_providers: bool = False
    # With the fake providers: play this many customer journeys per minute through the real
    # webhooks (okno.simulator), against ``public_url``; 0 = off.
    simulate_rate: float = Field(default=0.0, ge=0)

    webhook_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Files operators send: where their bytes are kept (empty: ``<data_dir>/files``) and the
    # largest one accepted (a bigger upload is refused with 413 and nothing is stored).
    files_dir: Path | None = None
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # How long a signed download link handed to an integration (the API channel) stays valid.
    file_link_ttl_hours: float = Field(default=72.0, gt=0)
    log_level: str = "info"
    # Team scoping (okno.access, docs/access.md): operators also see conversations of no team, and
    # customers with no conversation; false keeps operators to their teams' conversations.
    operators_see_unteamed: bool = True
    # A global customer directory: every operator may find and read every customer profile
    # (identities, attributes); conversations and their timeline entries stay scoped to teams.
    global_customer_directory: bool = False
    # Retention (docs/data-subject-requests.md): message bodies (text, HTML, content, attachments)
    # and raw inbound items older than this many days are anonymised by a daily job; 0 keeps them
    # for ever. A channel's own ``retention_days`` (PUT /api/v1/channels/{id}/retention) wins.
    retention_message_days: int = Field(default=0, ge=0, le=36500)
    retention_raw_days: int = Field(default=0, ge=0, le=36500)
    retention_hour_utc: int = Field(default=3, ge=0, le=23)  # when the daily retention job runs
    # Login throttling (accounts): this many refused logins within the window, for one e-mail or
    # from one address, and further attempts are answered 429 with Retry-After until the oldest
    # counted failure leaves the window.
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    login_window_minutes: float = Field(default=15.0, gt=0)
    # Reads of customer data are audited in batches: one writer transaction per this many
    # seconds at most (a crash loses at most this much of the read log; changes are audited
    # in their own transaction and never lost).
    read_audit_flush_seconds: float = Field(default=1.0, gt=0)
    # Outbound calls okno makes for users (API channel outbound_url, automation webhooks,
    # adapters' api_base, provider media URLs) may reach loopback, link-local, private and other
    # non-public addresses. Off: refused after DNS resolution and again at connect time
    # (docs/outbound-urls.md). The demo and the tests turn it on; on-premise CRMs may need it.
    allow_private_urls: bool = False

    # Hardening (docs/security.md). Peers whose X-Forwarded-Proto is believed (comma-separated
    # addresses or networks, "*" = any): behind such a TLS proxy cookies get ``Secure`` and HSTS.
    trusted_proxies: str = ""
    # Website chat limits, per minute: messages (and contact/answer frames) per visitor and per
    # IP address, new sessions per IP address, read/delivery receipts per visitor.
    widget_messages_per_minute: int = Field(default=30, ge=1)
    widget_messages_per_minute_per_ip: int = Field(default=120, ge=1)
    widget_sessions_per_minute_per_ip: int = Field(default=20, ge=1)
    widget_receipts_per_minute: int = Field(default=120, ge=1)
    # Count those limits in the database, shared by every process (docs/security.md). Unset: on
    # when OKNO_BUS_URL is set (several serve processes), off for one process (memory buckets).
    widget_limits_shared: bool | None = None
    # The time zone of operators who have not chosen their own (an IANA name); pages show times
    # in the operator's zone and snooze presets mean 09:00 there.
    default_time_zone: str = Field(default="Europe/Moscow", min_length=1)
    # analytics: a conversation of the same customer on the same reason within this many days of
    # the previous one's resolution is a repeat contact (docs/analytics.md)
    repeat_contact_days: int = Field(default=7, ge=0, le=365)

    # Scale-out (docs/deployment.md). Empty: the in-process bus (one process runs the workers).
    # nats://host:4222: events go through NATS JetStream, live pushes through NATS subjects.
    bus_url: str = ""
    # Subjects and stream names of this installation on the NATS server (one per installation).
    bus_prefix: str = Field(default="okno", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    # A subscriber's claim on an event: a process that dies mid-handler loses it after this long.
    bus_ack_wait_seconds: float = Field(default=30.0, gt=0)
    # PostgreSQL: outbox rows a relay took are another relay's after this long (it died). Keep it
    # well under the bus's de-duplication window (600 s).
    outbox_lease_seconds: float = Field(default=60.0, gt=0, le=300)
    # GET /metrics: from loopback only while empty; with a token, from anywhere with
    # ``Authorization: Bearer <token>``.
    metrics_token: str = ""
    # "console" (readable) or "json" (one JSON object a line, for log collectors)
    log_format: str = Field(default="console", pattern=r"^(console|json)$")
    # Surveys (okno.surveys, docs/surveys.md): no survey to a customer surveyed within this many
    # days (0: no quiet window); answers are accepted this long after the question went out; the
    # follow-up comment is waited for this long after the score; the language when neither the
    # customer's saved locale nor his messages tell it.
    survey_quiet_days: int = Field(default=7, ge=0, le=3650)
    survey_answer_hours: float = Field(default=72.0, gt=0)
    survey_comment_minutes: float = Field(default=60.0, gt=0)
    survey_default_language: str = Field(default="ru", pattern="^(ru|en)$")
    # e-mail: at most this many automatic replies (automation's canned answers) to one customer on
    # one mail channel within an hour; more are skipped, the rule's run failed with why (a loop
    # between two auto-responders ends here). 0: no automatic reply to e-mail at all
    auto_replies_per_sender_per_hour: int = Field(default=5, ge=0, le=1000)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'okno.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")

    def resolved_files_dir(self) -> Path:
        return self.files_dir if self.files_dir is not None else self.data_dir / "files"

    def ensure_data_dir(self) -> Path:
        """The data folder, owner-only (0700): it holds the key, the database and stored files."""
        from okno.kit.private_files import private_dir

        return private_dir(self.data_dir)

    def fernet_keys(self) -> list[str]:
        if self.secret_keys:
            return [k.strip() for k in self.secret_keys.split(",") if k.strip()]
        return [_data_dir_key(self.ensure_data_dir())]


def _data_dir_key(data_dir: Path) -> str:
    from cryptography.fernet import Fernet

    path = data_dir / "secret.key"
    if not path.exists():
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        tmp.write_text(Fernet.generate_key().decode())
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: the first writer wins, a racing one keeps that key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
