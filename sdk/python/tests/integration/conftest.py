"""A real ``llmlab serve`` for the whole integration session, and a stub upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.llmlab_server import LLMLabServer, llmlab_bin, missing_binary_message
from support.stub_upstream import StubUpstream


@pytest.fixture(scope="session")
def llmlab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMLabServer]:
    binary = llmlab_bin()
    if not binary.is_file():
        pytest.fail(missing_binary_message(binary), pytrace=False)
    server = LLMLabServer(binary, tmp_path_factory.mktemp("llmlab-serve")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api_key(llmlab_server: LLMLabServer) -> str:
    return llmlab_server.signup()


@pytest.fixture(scope="session")
def stub() -> Iterator[StubUpstream]:
    with StubUpstream() as server:
        yield server


@pytest.fixture
def spool(isolated_llmlab: Path) -> Path:
    return isolated_llmlab
