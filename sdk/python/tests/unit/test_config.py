"""Configuration precedence, the shared config file, and the no-key / disabled no-op."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import llmlab
from llmlab._config import DEFAULT_BASE_URL, Overrides, parse_flat_toml, read_config_file, resolve
from llmlab._runtime import RUNTIME

CONFIG = """\
# written by `llmlab init`
api_key = "llm_from_file"
base_url = "http://file.example:8787"

[other]
api_key = "llm_not_top_level"
"""


def test_the_flat_parser_reads_the_clis_file_on_pythons_without_tomllib() -> None:
    assert parse_flat_toml(CONFIG) == {
        "api_key": "llm_from_file",
        "base_url": "http://file.example:8787",
    }
    assert parse_flat_toml('a = "x" # note\nb = 3\n"c" = \'y\'\n') == {"a": "x", "c": "y"}


def test_read_config_file_keeps_top_level_strings_and_survives_junk(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    assert read_config_file(path) == {
        "api_key": "llm_from_file",
        "base_url": "http://file.example:8787",
    }
    path.write_text("api_key = 'unterminated\n[[[")
    assert read_config_file(path) == {}
    assert read_config_file(tmp_path / "missing.toml") == {}


def test_precedence_is_file_then_env_then_configure(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    env = {"LLMLAB_CONFIG": str(path)}
    s = resolve(Overrides(), env)
    assert (s.api_key, s.base_url, s.enabled) == ("llm_from_file", "http://file.example:8787", True)

    env.update(LLMLAB_API_KEY="llm_env", LLMLAB_BASE_URL="http://env:1/")
    s = resolve(Overrides(), env)
    assert (s.api_key, s.base_url) == ("llm_env", "http://env:1")

    s = resolve(Overrides(api_key="llm_cfg", base_url="http://cfg:2"), env)
    assert (s.api_key, s.base_url) == ("llm_cfg", "http://cfg:2")


def test_defaults_without_anything(tmp_path: Path) -> None:
    s = resolve(Overrides(), {"LLMLAB_CONFIG": str(tmp_path / "none.toml")})
    assert s.base_url == DEFAULT_BASE_URL
    assert not s.enabled
    assert s.disabled_reason is not None and "no API key" in s.disabled_reason


def test_the_spool_dir_follows_the_env_or_the_user_cache(tmp_path: Path) -> None:
    env = {"LLMLAB_CONFIG": str(tmp_path / "x"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert resolve(Overrides(), env).spool_dir == tmp_path / "cache" / "llmlab" / "spool"
    env["LLMLAB_SPOOL_DIR"] = str(tmp_path / "s")
    assert resolve(Overrides(), env).spool_dir == tmp_path / "s"


def test_disabled_by_env(tmp_path: Path) -> None:
    env = {"LLMLAB_CONFIG": str(tmp_path / "x"), "LLMLAB_API_KEY": "llm_k", "LLMLAB_DISABLED": "1"}
    assert not resolve(Overrides(), env).enabled
    assert resolve(Overrides(enabled=True), env).enabled


def test_no_key_is_a_no_op_with_exactly_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmlab")

    @llmlab.track_cost
    def ask(i: int) -> dict[str, Any]:
        return {"object": "chat.completion", "model": "m", "usage": {"prompt_tokens": i}}

    results = [ask(i) for i in range(5)]
    assert [r["usage"]["prompt_tokens"] for r in results] == list(range(5))
    with llmlab.track() as t:
        t.record(model="m", input_tokens=1)
    assert llmlab.flush(1) == 0
    assert RUNTIME.transport is None
    lines = [r for r in caplog.records if r.name == "llmlab"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING
    assert "no API key" in lines[0].getMessage()


def test_configure_switches_a_no_op_sdk_on(tmp_path: Path) -> None:
    assert RUNTIME.get_transport() is None
    llmlab.configure(api_key="llm_k", base_url="http://127.0.0.1:9", spool_dir=str(tmp_path))
    transport = RUNTIME.get_transport()
    assert transport is not None
    assert transport.settings.api_key == "llm_k"
    llmlab.configure(enabled=False)
    assert RUNTIME.get_transport() is None
