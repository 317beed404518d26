"""The record the caller's thread enqueues, and the TrackEvent JSON the worker builds from it.

The hot path only stores references (the provider's usage object, floats,
the decorator's options); ids, timestamps and JSON are made on the worker.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from ._extract import to_jsonable

#: Token-bucket fields a manual `t.record(...)` may set (SPEC §11).
BUCKET_FIELDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)


class Record:
    """One tracked call, as queued by the caller's thread."""

    __slots__ = (
        "batch",
        "buckets",
        "cost_usd",
        "latency_s",
        "model",
        "project",
        "provider",
        "service_tier",
        "status",
        "tags",
        "ts",
        "usage",
    )

    def __init__(
        self,
        provider: str,
        model: str,
        usage: Any = None,
        *,
        buckets: Optional[Dict[str, int]] = None,
        service_tier: Optional[str] = None,
        batch: Optional[bool] = None,
        project: Optional[str] = None,
        tags: Optional[Dict[str, str]] = None,
        latency_s: Optional[float] = None,
        status: str = "ok",
        cost_usd: Optional[str] = None,
        ts: Optional[float] = None,
    ) -> None:
        self.ts = time.time() if ts is None else ts
        self.provider = provider
        self.model = model
        self.usage = usage
        self.buckets = buckets
        self.service_tier = service_tier
        self.batch = batch
        self.project = project
        self.tags = tags
        self.latency_s = latency_s
        self.status = status
        self.cost_usd = cost_usd


def uuid7(unix_ms: int) -> str:
    """A UUIDv7 string (RFC 9562): 48-bit ms timestamp, version, 74 random bits."""
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)
    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def rfc3339(ts: float) -> str:
    """UTC RFC 3339 with milliseconds and a `Z`."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def build_event(
    rec: Record,
    default_project: Optional[str] = None,
    default_tags: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """The TrackEvent JSON object for ``rec``: only fields the server knows (it rejects others)."""
    event: Dict[str, Any] = {
        "event_id": uuid7(int(rec.ts * 1000)),
        "timestamp": rfc3339(rec.ts),
        "provider": rec.provider,
        "model": rec.model,
    }
    if rec.usage is not None:
        usage = to_jsonable(rec.usage)
        if isinstance(usage, dict):
            event["usage"] = usage
    elif rec.buckets:
        for key, value in rec.buckets.items():
            event[key] = value
    project = rec.project or default_project
    if project:
        event["project"] = str(project)
    if default_tags or rec.tags:
        tags: Dict[str, str] = {}
        for source in (default_tags, rec.tags):
            if source:
                for key, value in source.items():
                    tags[str(key)] = str(value)
        event["tags"] = tags
    if rec.latency_s is not None:
        event["latency_ms"] = max(0, int(round(rec.latency_s * 1000)))
    event["status"] = rec.status
    if rec.service_tier:
        event["service_tier"] = rec.service_tier
    if rec.batch is not None:
        event["batch"] = bool(rec.batch)
    if rec.cost_usd is not None:
        event["cost_usd"] = rec.cost_usd
    return event
