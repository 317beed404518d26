"""Shared fixtures: isolation from the user's config, and the "no swallowed errors" rule."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import llmlab
from llmlab import _internal
from llmlab._runtime import RUNTIME
from support.fake_llmlab import FakeLLMLab

#: Fast sender settings for tests: short intervals and backoffs, few retries.
FAST_TRANSPORT: dict[str, Any] = {
    "flush_interval": 0.02,
    "backoff_base": 0.01,
    "backoff_max": 0.5,
    "max_retries": 2,
    "timeout": 3.0,
    "spool_retry_interval": 0.05,
    "thread_restart_interval": 0.0,
    "exit_timeout": 1.0,
}


@pytest.fixture(autouse=True)
def internal_errors(request: pytest.FixtureRequest) -> Iterator[list[BaseException]]:
    """Fail any test during which the SDK swallowed an internal error (sentry's pattern).

    A test that provokes internal errors on purpose marks itself
    ``@pytest.mark.allow_internal_errors`` and inspects the list itself.
    """
    errors: list[BaseException] = []
    previous = _internal.internal_error_hook
    _internal.internal_error_hook = errors.append
    yield errors
    _internal.internal_error_hook = previous
    if errors and request.node.get_closest_marker("allow_internal_errors") is None:
        raise errors[0]


@pytest.fixture(autouse=True)
def isolated_llmlab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No real config file, env or spool leaks in; every test starts unconfigured."""
    for name in ("LLMLAB_API_KEY", "LLMLAB_BASE_URL", "LLMLAB_DISABLED", "LLMLAB_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLMLAB_CONFIG", str(tmp_path / "no-config.toml"))
    spool = tmp_path / "spool"
    monkeypatch.setenv("LLMLAB_SPOOL_DIR", str(spool))
    reset_runtime()
    yield spool
    reset_runtime()


def reset_runtime() -> None:
    transport = RUNTIME.transport
    if transport is not None:
        transport.close(timeout=0.5)
    RUNTIME.__init__()  # type: ignore[misc]
    _internal.reset_log_once()


@pytest.fixture
def fake_server() -> Iterator[FakeLLMLab]:
    server = FakeLLMLab().start()
    yield server
    server.hang.clear()
    server.stop()


@pytest.fixture
def tracking(fake_server: FakeLLMLab, isolated_llmlab: Path) -> FakeLLMLab:
    """The SDK configured against the fake server with fast transport settings."""
    llmlab.configure(
        api_key=fake_server.api_key,
        base_url=fake_server.url,
        spool_dir=str(isolated_llmlab),
        transport=FAST_TRANSPORT,
    )
    return fake_server


@pytest.fixture
def quiet_llmlab_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="llmlab")
    return caplog


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_internal_errors: the test provokes SDK-internal errors on purpose"
    )
