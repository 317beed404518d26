"""`python -m llmlab_cli …` runs the `llmlab` binary with the same arguments."""

from __future__ import annotations

import os
import sys

from llmlab_cli import find_llmlab_bin


def main() -> None:
    llmlab = os.fsdecode(find_llmlab_bin())
    if sys.platform == "win32":
        import subprocess

        sys.exit(subprocess.run([llmlab, *sys.argv[1:]]).returncode)  # noqa: S603  (our own binary)
    os.execvp(llmlab, [llmlab, *sys.argv[1:]])  # noqa: S606  (replaces this process, like ruff)


if __name__ == "__main__":
    main()
