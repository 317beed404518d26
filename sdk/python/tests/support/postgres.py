"""A fresh PostgreSQL database for tests that run a server on PostgreSQL.

The server is the one of ``LLMLAB_TEST_PG_URL`` (the default is the one
``.ci/run`` starts). ``cargo dev test`` probes it before the run and, when it
cannot be used (never under CI=true), sets ``LLMLAB_TEST_SKIP_POSTGRES`` to
the reason these tests are skipped with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def _psql(admin_url: str, statement: str) -> None:
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail("psql is not installed: `apt-get install -y postgresql-client`", pytrace=False)
    subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin_url, "-c", statement], check=True
    )


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards; skips the test
    when ``cargo dev test`` found no usable PostgreSQL."""
    skip = os.environ.get("LLMLAB_TEST_SKIP_POSTGRES")
    if skip:
        pytest.skip(skip)
    admin_url = os.environ.get("LLMLAB_TEST_PG_URL") or DEFAULT_PG_URL
    name = f"llmlab_sdk_{uuid.uuid4().hex}"
    _psql(admin_url, f"create database {name}")
    try:
        yield _with_database(admin_url, name)
    finally:
        _psql(admin_url, f"drop database if exists {name} with (force)")
