from functools import lru_cache

from pydantic import Field, HttpUrl, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable, read from STANCEMAP_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="STANCEMAP_", extra="ignore")

    # Relative path on purpose: the embedded default lives where the server is started.
    database_url: str = "sqlite:///./stancemap.db"
    # Largest request body accepted, in bytes; larger bodies get 413.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Largest body of a bulk import (POST /v1/imports), which is spooled to a temporary file, not held.
    max_import_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    # SQLite waits this long for a competing writer before giving up.
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    # Page cache per SQLite connection; matrix queries read index pages over and over.
    sqlite_cache_mb: int = Field(default=8, ge=1, le=4096)
    # Page cache of each SQLite connection that builds matrices and diffs (max_concurrent_builds
    # of them): a full matrix reads a few thousand pages, and a cache that holds them all keeps
    # the next build from reading them again.
    sqlite_view_cache_mb: int = Field(default=24, ge=1, le=4096)
    # Connections kept open per server process (and as many more under load).
    pool_size: int = Field(default=4, ge=1, le=100)
    # How long a request waits for a free connection before it gets 503 with Retry-After.
    pool_timeout_s: float = Field(default=30, gt=0, le=600)
    default_page_size: int = Field(default=50, ge=1, le=500)
    max_page_size: int = Field(default=200, ge=1, le=1000)
    # Worker threads per process for request handlers (FastAPI runs sync endpoints in them).
    threads: int = Field(default=40, ge=2, le=1000)
    # Rendered matrix, diff and timeline bodies kept per server process.
    view_cache_mb: int = Field(default=16, ge=0, le=4096)
    # Matrices and diffs built at the same time per process; more requests wait their turn.
    max_concurrent_builds: int = Field(default=2, ge=1, le=64)
    # An open change stream (GET /v1/changes as text/event-stream) sends a comment after this many
    # idle seconds, so proxies keep the connection open.
    sse_heartbeat_s: float = Field(default=15, gt=0, le=3600)
    # How often an open change stream looks for new events in the database, where every server
    # process writes them.
    sse_poll_s: float = Field(default=1.0, gt=0, le=60)
    # An open change stream ends after this many seconds, and its client reconnects after the last
    # event it got (Last-Event-ID), losing nothing. A stopping server waits for every response in
    # progress, so this bounds how long a stop waits for open streams.
    sse_max_s: float = Field(default=25, gt=0, le=86_400)
    # The address readers reach the API at (https://stancemap.example.org), when it differs from the
    # one each request names (a proxy, several host names): Atom feeds build their links and entry
    # ids on it, so an entry keeps one id however it was fetched.
    public_url: HttpUrl | None = None
    # When true, reads need a token too (any scope).
    read_requires_token: bool = False
    # Origins allowed to call the API from a browser, comma-separated; none by default.
    cors_origins: str = ""
    log_sql: bool = False
    # When a source supersedes another: a quote whose closest passage in the new text scores below
    # this (0-1, quote and context) is orphaned instead of flagged as drifted for an editor.
    anchoring_threshold: float = Field(default=0.75, ge=0, le=1)
    # POST /v1/sources with only a `url` fetches the page. Private, loopback, link-local and other
    # non-public addresses are refused unless this is true (an intranet deployment, or tests).
    fetch_allow_private: bool = False
    # Budget for the whole fetch, redirects and reading included.
    fetch_timeout_s: float = Field(default=10, gt=0, le=120)
    # Pages larger than this (after decompression) are refused rather than read to the end.
    fetch_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    # Sent with every fetch, so publishers can tell who reads their pages; add a contact if you can.
    fetch_user_agent: str = Field(default="Stancemap/0.1 (source fetcher)", min_length=1, max_length=300)
    # Each server process runs a thread that sends pending webhook deliveries; false: this one sends none.
    webhook_delivery: bool = True
    # How often an idle delivery thread looks for due deliveries.
    webhook_poll_s: float = Field(default=1.0, gt=0, le=60)
    # Budget for one delivery: connecting, sending and the receiver's answer.
    webhook_timeout_s: float = Field(default=10, gt=0, le=120)
    # A claimed delivery is another process's to retry once this has passed (its sender died); longer
    # than the timeout, so a live sender is never overtaken.
    webhook_lease_s: float = Field(default=60, gt=0, le=3600)
    # The first retry waits this long, each next one twice as long (with jitter), up to an hour.
    webhook_retry_base_s: float = Field(default=10, ge=0, le=3600)
    # A delivery still failing this long after its event is given up (status failed).
    webhook_retry_window_s: float = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)
    # A webhook whose deliveries were given up this many times in a row, none delivered between, is disabled.
    webhook_disable_after: int = Field(default=5, ge=1, le=1000)

    @model_validator(mode="after")
    def _lease_outlasts_delivery(self) -> "Settings":
        if self.webhook_lease_s <= self.webhook_timeout_s:
            raise ValueError("STANCEMAP_WEBHOOK_LEASE_S must be longer than STANCEMAP_WEBHOOK_TIMEOUT_S")
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
