"""A real headless Chromium for page tests: Debian's `chromium`, driven by Playwright.

Installed with apt-get when missing, so `make test` needs nothing done by hand; Playwright's
own browser download (`playwright install`) is never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess

APT_LOCK_WAIT_S = "600"


def chromium_executable() -> str:
    found = shutil.which("chromium")
    if found is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        lock = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_WAIT_S}"]
        subprocess.run(["apt-get", *lock, "update"], check=True, env=env, timeout=900)
        install = ["apt-get", *lock, "install", "-y", "--no-install-recommends", "chromium"]
        subprocess.run(install, check=True, env=env, timeout=1800)
        found = shutil.which("chromium")
    assert found is not None, "apt-get installed chromium, yet it is not on PATH"
    return found
