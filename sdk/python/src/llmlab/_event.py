"""The item the caller's thread enqueues, and the TrackEvent JSON the worker builds from it.

The hot path stores only references in a plain tuple (see ``Item``); ids,
timestamps, provider/model fallbacks and JSON are all made on the worker.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any, Optional

from ._extract import Found, WithParts, to_jsonable
from ._extract._common import CutOff
from ._extract.failure import requested_model
from ._internal import log_once

if TYPE_CHECKING:
    from collections.abc import Mapping

_random_bits = random.getrandbits

#: Token-bucket fields a manual `t.record(...)` may set (SPEC §11).
BUCKET_FIELDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)

#: ``(start, latency_s, status, options, found, extra)``; ``start`` is a
#: ``time.perf_counter()`` reading (one clock call fewer on the hot path), made
#: wall-clock time by the worker with ``wall_offset()``. ``options`` is the
#: decorator's (anything with ``provider``, ``model``, ``project``, ``tags``);
#: ``extra`` carries a manual record's ``buckets``, ``service_tier``, ``batch``,
#: ``requested_service_tier``, ``upstream_host``
#: and ``cost_usd``, or a failed call's ``request`` (for the requested model),
#: and a hard-mode call's ``reservation_id`` (and the ``model`` it reserved for),
#: else None. A plain tuple, made once per tracked call and
#: read once, by unpacking, in ``build_event``: a NamedTuple measured 100-130 ns
#: more per decorated call (+15%), like ``Found``.
Item = tuple[float, Optional[float], str, Any, Optional[Found], Optional["Mapping[str, Any]"]]


#: The fields of a call whose response told us nothing.
_NOTHING_FOUND: tuple[None, None, None, None, None] = (None, None, None, None, None)


def uuid7(unix_ms: int) -> str:
    """A UUIDv7 string (RFC 9562): 48-bit ms timestamp, version, 74 random bits."""
    # Unique, not secret: `random` is reseeded in forked children (CPython's at-fork hook).
    rand = _random_bits(80)
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)
    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def rfc3339(ts: float) -> str:
    """UTC RFC 3339 with milliseconds and a `Z`."""
    seconds = int(ts // 1)
    t = time.gmtime(seconds)
    millis = min(999, int((ts - seconds) * 1000))
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - the fastest spelling
        t.tm_year,
        t.tm_mon,
        t.tm_mday,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
        millis,
    )


def wall_offset() -> float:
    """``time.time() - time.perf_counter()`` now: turns a ``start`` into a Unix time."""
    return time.time() - time.perf_counter()


def build_event(
    item: Item,
    default_project: Optional[str] = None,
    default_tags: Optional[Mapping[str, str]] = None,
    offset: Optional[float] = None,
) -> Optional[dict[str, Any]]:
    """The TrackEvent JSON for ``item`` (only fields the server knows: it rejects others).

    ``None`` when there is nothing to send: a call that returned no LLM
    response and named no model.
    """
    start, latency_s, status, opts, found, extra = item
    ts = start + (wall_offset() if offset is None else offset)
    manual = extra is not None and "buckets" in extra
    if found is None and not manual and opts.model is None and status == "ok":
        log_once(
            "nothing-found",
            logging.INFO,
            "llmlab: a tracked call returned no recognizable LLM response; return the "
            "provider's response (or stream), or record it with llmlab.track()",
        )
        return None
    found_provider, found_model, usage, tier, batch = found if found is not None else _NOTHING_FOUND
    provider = opts.provider or found_provider or "unknown"
    if found_model is None and extra is not None and extra.get("request") is not None:
        # A call that raised: the model it asked for, as the proxy records it.
        found_model = requested_model(extra["request"])
    event: dict[str, Any] = {
        "event_id": uuid7(int(ts * 1000)),
        "timestamp": rfc3339(ts),
        "provider": provider,
        "model": found_model or opts.model or (extra and extra.get("model")) or "unknown",
    }
    partial_reason: Optional[str] = None
    parts = None
    # A stream cut off before its final event (CutOff) is priced by the server as a lower
    # bound; WithParts carries the response's fee-bearing parts outside ``usage``.
    while isinstance(usage, (CutOff, WithParts)):
        if isinstance(usage, CutOff):
            usage, partial_reason = usage.usage, usage.reason
        else:
            usage, parts = usage.usage, usage.parts
    if usage is not None:
        data = to_jsonable(usage)
        if isinstance(data, dict):
            event["usage"] = data
            if parts is not None:
                event["response_parts"] = to_jsonable(parts)
            if partial_reason is not None:
                event["partial"] = True
                event["partial_reason"] = partial_reason
    elif extra and extra.get("buckets"):
        event.update(extra["buckets"])
    elif found is not None and status == "ok":
        log_once(
            f"no-usage-{provider}",
            logging.INFO,
            "llmlab: a %s response carried no usage (for OpenAI streams pass "
            "stream_options={'include_usage': True}); it is recorded as usage unknown",
            provider,
        )
    project = opts.project or default_project
    if project:
        event["project"] = str(project)
    if default_tags or opts.tags:
        tags: dict[str, str] = {}
        for source in (default_tags, opts.tags):
            if source:
                for tag, text in source.items():
                    tags[str(tag)] = str(text)
        event["tags"] = tags
    if latency_s is not None:
        event["latency_ms"] = max(0, round(latency_s * 1000))
    event["status"] = status
    if extra:
        tier = extra.get("service_tier") or tier
        batch = extra.get("batch") if extra.get("batch") is not None else batch
        if extra.get("cost_usd") is not None:
            event["cost_usd"] = str(extra["cost_usd"])
    if tier:
        event["service_tier"] = str(tier)
    if batch is not None:
        event["batch"] = bool(batch)
    for name in ("requested_service_tier", "upstream_host"):
        if extra and extra.get(name):
            event[name] = str(extra[name])
    if extra and extra.get("reservation_id"):
        event["reservation_id"] = str(extra["reservation_id"])
    return event
