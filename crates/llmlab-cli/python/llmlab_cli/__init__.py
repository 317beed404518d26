"""The `llmlab` binary, installed by the `llmlab-cli` wheel.

The wheel puts the Rust binary in the environment's scripts folder; this
package only finds it, so `python -m llmlab_cli …` works where the scripts
folder is not on ``PATH``.
"""

from __future__ import annotations

import os
import sys
import sysconfig

__all__ = ["find_llmlab_bin"]


def _user_scheme() -> str:
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    if os.name == "nt":
        return "nt_user"
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        return "osx_framework_user"
    return "posix_user"


def find_llmlab_bin() -> str:
    """Return the path of the `llmlab` binary this package was installed with.

    Looks where pip puts scripts: the environment's scripts folder, the user
    scheme's (``pip install --user``), and ``bin/`` beside the package root
    (``pip install --target``). Raises ``FileNotFoundError`` naming the first.
    """
    exe = "llmlab" + (sysconfig.get_config_var("EXE") or "")
    scripts = os.path.join(sysconfig.get_path("scripts"), exe)
    candidates = [
        scripts,
        os.path.join(sysconfig.get_path("scripts", scheme=_user_scheme()), exe),
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin", exe),
    ]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(scripts)
