"""Child processes that are started, awaited until ready, and always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class StartupFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    ready: Callable[[], bool], timeout_s: float, what: str, process: Service | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise StartupFailed(
                f"{what} exited with code {process.returncode()}; see {process.log_path}"
            )
        if ready():
            return
        time.sleep(0.1)
    raise StartupFailed(f"{what} was not ready after {timeout_s:.0f}s")


class Service:
    """One child process, its output in a log file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._stopped = False

    @classmethod
    def python(
        cls, name: str, module: str, log_dir: Path, env: Mapping[str, str] | None = None
    ) -> Service:
        return cls(name, [sys.executable, "-m", module], log_dir, env)

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} was not started"
        return self._process.pid

    def start(self) -> Service:
        self._started_at = time.monotonic()
        self._stopped = False
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop children
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no cleanup runs in the child."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            assert self._process is not None
            self._process.wait()

    def crashed_after(self, uptime_s: float) -> bool:
        """It exited without being stopped, having run at least `uptime_s` (so it did start)."""
        ran_long_enough = time.monotonic() - self._started_at >= uptime_s
        return (
            self._process is not None and not self._stopped and not self.alive() and ran_long_enough
        )

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM, SIGKILL after `timeout_s`; then whatever it started itself goes too."""
        self._stopped = True
        if self._process is None:
            return
        if self.alive():
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)  # it leads its own process group

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
