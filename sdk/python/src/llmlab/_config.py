"""Configuration: one registry of environment variables, the shared config file, overrides.

Precedence, lowest first: defaults → the config file the CLI writes
(``$LLMLAB_CONFIG`` or ``~/.config/llmlab/config.toml``) → ``LLMLAB_*``
environment variables → ``llmlab.configure(...)``. Nothing is read at import
time; the first tracked call resolves it.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from ._internal import log_once

if TYPE_CHECKING:
    from collections.abc import Mapping


class EnvVars:
    """Every environment variable the SDK reads, declared once (mirrors the CLI's registry)."""

    #: Path of the TOML config file shared with the `llmlab` CLI.
    LLMLAB_CONFIG = "LLMLAB_CONFIG"
    #: The account's API key (`llm_…`); overrides `api_key` in the config file.
    LLMLAB_API_KEY = "LLMLAB_API_KEY"
    #: Base URL of the LLMLab server; overrides `base_url` in the config file.
    LLMLAB_BASE_URL = "LLMLAB_BASE_URL"
    #: `1`/`true`/`yes` turns the SDK into a no-op.
    LLMLAB_DISABLED = "LLMLAB_DISABLED"
    #: Directory of the on-disk spool for events the server did not accept yet.
    LLMLAB_SPOOL_DIR = "LLMLAB_SPOOL_DIR"
    #: Hard mode when the budget check cannot be made: `open` (send the call, the default)
    #: or `closed` (raise `llmlab.BudgetCheckFailed` instead).
    LLMLAB_BUDGET_FAILURE = "LLMLAB_BUDGET_FAILURE"


DEFAULT_BASE_URL = "http://127.0.0.1:8787"

#: Hard mode's answers to "the budget check could not be made".
FAIL_OPEN, FAIL_CLOSED = "open", "closed"

_TRUTHY = frozenset({"1", "true", "yes", "on"})


def default_config_path(env: Mapping[str, str]) -> Path:
    """The config file path, the same rule as the CLI's."""
    explicit = env.get(EnvVars.LLMLAB_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    return Path("~/.config/llmlab/config.toml").expanduser()


def default_spool_dir(env: Mapping[str, str]) -> Path:
    """Where undelivered events wait: ``$LLMLAB_SPOOL_DIR`` or the user cache dir."""
    explicit = env.get(EnvVars.LLMLAB_SPOOL_DIR)
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "darwin":
        base = Path("~/Library/Caches").expanduser()
    elif sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or Path("~/AppData/Local").expanduser())
    else:
        xdg = env.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path("~/.cache").expanduser()
    return base / "llmlab" / "spool"


def parse_flat_toml(text: str) -> dict[str, str]:
    """Read top-level ``key = "string"`` lines: enough for the CLI's config file on 3.9/3.10.

    Tables, arrays and non-string values are skipped rather than guessed at.
    """
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            break  # keys after a table header belong to that table
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key = key.strip().strip('"').strip("'")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote = value[0]
            body = value[1:-1]
            if quote == '"':
                body = body.replace('\\"', '"').replace("\\\\", "\\")
            out[key] = body
        else:
            # A trailing comment after a quoted string: `key = "v" # note`.
            for quote in "\"'":
                if value.startswith(quote):
                    end = value.find(quote, 1)
                    if end > 0 and value[end + 1 :].strip().startswith("#"):
                        out[key] = value[1:end]
                    break
    return out


def parse_budget_failure(value: Optional[str], source: str) -> str:
    """``open`` or ``closed`` from ``value`` (``fail_open``/``fail-closed`` too).

    Anything else is logged once and read as ``closed``: whoever set it
    wanted something other than the default, and refusing is the safe side.
    """
    if value is None:
        return FAIL_OPEN
    word = str(value).strip().lower()
    for prefix in ("fail_", "fail-"):
        if word.startswith(prefix):
            word = word[len(prefix) :]
    if word in (FAIL_OPEN, FAIL_CLOSED):
        return word
    log_once(
        f"budget-failure-{value!r}",
        logging.WARNING,
        'llmlab: %s is %r; expected "open" or "closed". Using "closed": calls are refused '
        "when the budget check cannot be made",
        source,
        value,
    )
    return FAIL_CLOSED


def read_config_file(path: Path) -> dict[str, str]:
    """Top-level string keys of the config file; ``{}`` when it is missing or unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    text = data.decode("utf-8", errors="replace")
    try:
        # 3.11+; on 3.9/3.10 the flat parser reads the CLI's `key = "value"` file.
        tomllib = importlib.import_module("tomllib")
    except ImportError:
        return parse_flat_toml(text)
    try:
        parsed: dict[str, Any] = tomllib.loads(text)
    except ValueError:
        return parse_flat_toml(text)
    return {k: v for k, v in parsed.items() if isinstance(v, str)}


@dataclass
class Overrides:
    """Values given to ``configure()``; ``None`` means "not set here"."""

    api_key: Optional[str] = None
    base_url: Optional[str] = None
    enabled: Optional[bool] = None
    project: Optional[str] = None
    tags: Optional[dict[str, str]] = None
    on_budget_alert: Optional[Callable[[dict[str, Any]], None]] = None
    spool_dir: Optional[str] = None
    enforce_budget: Optional[bool] = None
    budget_failure: Optional[str] = None
    transport: dict[str, Any] = field(default_factory=dict)


@dataclass
class TransportOptions:
    """Tuning knobs (``llmlab.configure(transport={...})``); the defaults suit most programs."""

    batch_size: int = 100
    flush_interval: float = 1.0
    max_queue: int = 10_000
    max_batch_bytes: int = 1 << 20
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 5.0
    spool_max_bytes: int = 16 << 20
    spool_max_files: int = 2000
    spool_retry_interval: float = 30.0
    thread_restart_interval: float = 5.0
    exit_timeout: float = 2.0
    #: Hard mode: how long a call waits for ``POST /api/budgets/reserve`` (connect and answer).
    reserve_timeout: float = 2.0
    #: Hard mode: after a reservation timed out, how long calls skip the round trip and
    #: follow ``budget_failure`` at once (a hung server must not add the timeout to every call).
    reserve_pause: float = 5.0


@dataclass
class Settings:
    """The resolved configuration."""

    api_key: Optional[str]
    base_url: str
    enabled: bool
    project: Optional[str]
    tags: Optional[dict[str, str]]
    on_budget_alert: Optional[Callable[[dict[str, Any]], None]]
    spool_dir: Path
    config_path: Path
    disabled_reason: Optional[str] = None
    #: Hard mode when the budget check cannot be made: ``open`` or ``closed``.
    budget_failure: str = FAIL_OPEN
    #: True when tracking is off because the user said so (not for want of an API key).
    disabled_by_user: bool = False


def resolve(overrides: Overrides, env: Optional[Mapping[str, str]] = None) -> Settings:
    """Layer defaults, the config file, the environment and ``configure()`` overrides."""
    environ: Mapping[str, str] = os.environ if env is None else env
    path = default_config_path(environ)
    file_values = read_config_file(path)

    api_key = overrides.api_key or environ.get(EnvVars.LLMLAB_API_KEY) or file_values.get("api_key")
    base_url = (
        overrides.base_url
        or environ.get(EnvVars.LLMLAB_BASE_URL)
        or file_values.get("base_url")
        or DEFAULT_BASE_URL
    )
    disabled_env = environ.get(EnvVars.LLMLAB_DISABLED, "").strip().lower() in _TRUTHY
    enabled = overrides.enabled if overrides.enabled is not None else not disabled_env
    by_user = not enabled
    reason: Optional[str] = None
    if not enabled:
        reason = "disabled (LLMLAB_DISABLED or configure(enabled=False))"
    elif not api_key:
        enabled = False
        reason = (
            "no API key: run `llmlab init`, set LLMLAB_API_KEY, or call "
            f"llmlab.configure(api_key=...) (config file: {path})"
        )
    spool = Path(overrides.spool_dir).expanduser() if overrides.spool_dir else None
    if overrides.budget_failure is not None:
        failure = parse_budget_failure(overrides.budget_failure, "configure(budget_failure=...)")
    else:
        failure = parse_budget_failure(
            environ.get(EnvVars.LLMLAB_BUDGET_FAILURE) or None, EnvVars.LLMLAB_BUDGET_FAILURE
        )
    return Settings(
        api_key=api_key or None,
        base_url=base_url.rstrip("/"),
        enabled=enabled,
        project=overrides.project,
        tags=overrides.tags,
        on_budget_alert=overrides.on_budget_alert,
        spool_dir=spool or default_spool_dir(environ),
        config_path=path,
        disabled_reason=reason,
        budget_failure=failure,
        disabled_by_user=by_user,
    )
