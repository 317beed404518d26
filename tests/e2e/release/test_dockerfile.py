"""The Dockerfile, read with BuildKit's own parser (the `dockerfile` wheel): what
docs/deployment.md says about the image holds. Docker itself is not needed (nor
run): CI machines have no Docker engine.

The image's HEALTHCHECK command runs here against a real `llmlab serve`, and the
entrypoint script runs with stand-ins for the commands it calls.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import dockerfile
import pytest

REPO = Path(__file__).resolve().parents[3]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"


def instructions() -> list[Any]:
    return list(dockerfile.parse_file(str(REPO / "Dockerfile")))


def stages() -> list[list[Any]]:
    """The instructions of each stage (global ARGs before the first FROM are left out)."""
    result: list[list[Any]] = []
    for command in instructions():
        if command.cmd == "FROM":
            result.append([])
        if result:
            result[-1].append(command)
    return result


def only(stage: list[Any], cmd: str) -> Any:
    (found,) = [c for c in stage if c.cmd == cmd]
    return found


def env(stage: list[Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for command in (c for c in stage if c.cmd == "ENV"):
        pairs = command.value
        values.update(zip(pairs[::2], pairs[1::2]))
    return values


def test_the_build_stage_uses_the_pinned_toolchain() -> None:
    toolchain = (REPO / "rust-toolchain.toml").read_text()
    (pinned,) = re.findall(r'^channel = "([^"]+)"$', toolchain, re.MULTILINE)
    (argument,) = [c for c in instructions()[:1] if c.cmd == "ARG"]
    assert argument.value == (f"RUST_VERSION={pinned}",), "the Dockerfile's RUST_VERSION is rust-toolchain.toml's"
    build, _runtime = stages()
    assert build[0].value[0] == "rust:${RUST_VERSION}-slim-bookworm"
    assert env(build)["RUSTUP_TOOLCHAIN"] == "${RUST_VERSION}"


def test_target_is_a_cache_mount_and_the_binary_leaves_it_in_the_same_run() -> None:
    build, _runtime = stages()
    (run,) = [c for c in build if c.cmd == "RUN"]
    options = [dict(part.split("=", 1) for part in flag.removeprefix("--mount=").split(",")) for flag in run.flags]
    mounts = {option["target"]: option for option in options}
    assert set(mounts) == {"/usr/local/cargo/registry", "/usr/local/cargo/git", "/src/target"}
    # docs/deployment.md's Railway step rewrites `id=llmlab-` into Railway's `id=s/<service id>-llmlab-`.
    assert all(option["type"] == "cache" and option["id"].startswith("llmlab-") for option in options), options
    script = run.value[0]
    assert "cargo build --release --locked -p llmlab-cli" in script
    assert re.search(r"&& cp target/release/llmlab /usr/local/bin/llmlab$", script), script


def test_the_runtime_image_holds_the_binary_a_volume_and_a_health_check() -> None:
    _build, runtime = stages()
    assert runtime[0].value == ("debian:bookworm-slim",)
    copies = [c for c in runtime if c.cmd == "COPY"]
    assert [c.value for c in copies] == [
        ("/usr/local/bin/llmlab", "/usr/local/bin/llmlab"),
        ("docker/entrypoint.sh", "/usr/local/bin/llmlab-entrypoint"),
    ], "only the binary (and the entrypoint) reach the image, never target/"
    assert only(runtime, "VOLUME").value == ("/data",)
    assert only(runtime, "EXPOSE").value == ("8787",)
    assert env(runtime) == {
        "DATABASE_URL": "sqlite:///data/llmlab.db",
        "LLMLAB_HOST": "0.0.0.0",
        "LLMLAB_PORT": "8787",
        "HOME": "/data",
    }
    assert only(runtime, "ENTRYPOINT").value == ("llmlab-entrypoint",)
    assert only(runtime, "CMD").value == ("serve",)
    health = " ".join(only(runtime, "HEALTHCHECK").value)
    assert "curl" not in health and "wget" not in health


def test_the_build_context_leaves_out_target_git_and_environments() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in ["target/", ".git/", "**/node_modules/", "**/.venv/"]:
        assert entry in ignored, entry


def health_command() -> list[str]:
    _build, runtime = stages()
    command = only(runtime, "HEALTHCHECK").value
    assert command[0] == "CMD"
    return list(command[1:])


def test_the_health_check_passes_on_a_running_server_and_fails_without_one(server: Any) -> None:
    port = server.base_url.rsplit(":", 1)[1]
    alive = subprocess.run(health_command(), env={**os.environ, "LLMLAB_PORT": port}, timeout=10, check=False)
    assert alive.returncode == 0
    server.stop()
    dead = subprocess.run(health_command(), env={**os.environ, "LLMLAB_PORT": port}, timeout=10, check=False)
    assert dead.returncode != 0


@pytest.fixture
def stand_ins(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH folder whose `id`, `stat`, `chown`, `setpriv` and `llmlab` log their arguments."""
    log = tmp_path / "calls.log"
    for name in ["stat", "chown", "setpriv", "llmlab"]:
        script = tmp_path / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n[ {name} = stat ] && echo 0\nexit 0\n')
        script.chmod(0o755)
    return tmp_path, log


def run_entrypoint(stand_ins: tuple[Path, Path], uid: int) -> list[str]:
    folder, log = stand_ins
    (folder / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (folder / "id").chmod(0o755)
    subprocess.run(
        ["sh", str(ENTRYPOINT), "serve", "--port", "9000"],
        env={**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"},
        check=True,
        timeout=10,
    )
    return [line for line in log.read_text().splitlines() if not line.startswith(("stat", "chown"))]


def test_the_entrypoint_drops_root_to_the_llmlab_user(stand_ins: tuple[Path, Path]) -> None:
    assert run_entrypoint(stand_ins, uid=0) == [
        "setpriv --reuid=llmlab --regid=llmlab --init-groups --inh-caps=-all -- llmlab serve --port 9000"
    ]


def test_the_entrypoint_runs_llmlab_as_any_other_user_unchanged(stand_ins: tuple[Path, Path]) -> None:
    assert run_entrypoint(stand_ins, uid=10001) == ["llmlab serve --port 9000"]
