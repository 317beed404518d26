"""The two packages as a user installs them: wheel files, not source folders.

Both wheels are built as files (`llmlab-cli` by maturin, the `llmlab` SDK by
pip) and installed into one fresh virtualenv (see conftest.py); from there
`llmlab --version` runs and `import llmlab` gives the SDK's version, read
from the installed files, not from this checkout.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _version_in(pyproject: Path) -> str:
    match = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.MULTILINE)
    assert match, f"no version in {pyproject}"
    return match.group(1)


def _workspace_version() -> str:
    return _version_in(REPO / "Cargo.toml")


def test_both_wheels_are_files(cli_wheel: Path, sdk_wheel: Path) -> None:
    assert cli_wheel.is_file()
    assert cli_wheel.name.startswith(f"llmlab_cli-{_workspace_version()}-"), cli_wheel.name
    assert sdk_wheel.is_file()
    assert sdk_wheel.name == f"llmlab-{_version_in(REPO / 'sdk' / 'python' / 'pyproject.toml')}-py3-none-any.whl"


def test_the_installed_cli_prints_its_version(installed_cli: Path) -> None:
    done = subprocess.run([str(installed_cli / "llmlab"), "--version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"llmlab {_workspace_version()}"


def test_the_installed_sdk_imports_from_the_virtualenv(installed_cli: Path) -> None:
    python = installed_cli / "python"
    done = subprocess.run(
        [str(python), "-c", "import llmlab; print(llmlab.__version__); print(llmlab.__file__)"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=installed_cli,  # not the checkout: nothing to import by accident
    )
    assert done.returncode == 0, done.stderr
    version, location = done.stdout.split()
    assert version == _version_in(REPO / "sdk" / "python" / "pyproject.toml")
    assert Path(location).is_relative_to(installed_cli.parent), f"imported from {location}, not the wheel"
