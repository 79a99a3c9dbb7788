"""What the engine reads of the settings: the few values that shape a reply's life.

``Settings`` has every knob of the server; the engine, its runs, followers and the takeover
sweeper see only these, built in one place (``EngineConfig.from_settings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tokenwire.settings import Settings

__all__ = ["EngineConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    # Input limits, checked before anything is stored
    max_content_chars: int
    max_images_per_message: int
    max_image_bytes: int
    # Streaming
    checkpoint_interval_s: float
    shutdown_grace_s: float
    subscriber_batch: int
    # Several instances (engine/cluster.py, engine/takeover.py)
    lease_ttl_s: float
    sweep_interval_s: float
    takeover: Literal["continue", "interrupt"]
    max_takeovers: int

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        return cls(
            max_content_chars=settings.max_content_chars,
            max_images_per_message=settings.max_images_per_message,
            max_image_bytes=settings.max_image_bytes,
            checkpoint_interval_s=settings.checkpoint_interval_s,
            shutdown_grace_s=settings.shutdown_grace_s,
            subscriber_batch=settings.subscriber_batch,
            lease_ttl_s=settings.lease_ttl_s,
            sweep_interval_s=settings.sweep_interval_s,
            takeover=settings.takeover,
            max_takeovers=settings.max_takeovers,
        )
