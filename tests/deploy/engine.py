"""A private Docker engine for the container tests, and the base image the kennel images build on.

The engine is the test's own `dockerd` on a private socket (never the machine's), with no bridge
network and no iptables rules: containers use host networking. Its images live in CACHE and
outlive the test, so a second run on the same machine rebuilds nothing; the containers,
networks and volumes a test makes are removed by the test, and the engine is stopped.

Docker Hub cannot be reached where this runs, so the base image is Debian bookworm made with
`debootstrap` from Debian's mirror (the machine's CA bundle included, so PyPI answers through
the same proxy the host uses) and `docker import`ed. Missing packages (docker.io, debootstrap)
are installed with apt-get: the tests run as root in CI.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

CACHE = Path(os.environ.get("KENNEL_TEST_DOCKER_CACHE", "/var/cache/kennel-test-docker"))
BASE_IMAGE = "kennel-test-base:bookworm"
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
APT_PACKAGES = {"dockerd": "docker.io", "debootstrap": "debootstrap"}
DOCKER_CLI = "/usr/bin/docker"  # docker.io's client, the engine's own version
# dockerd, runc and debootstrap live in sbin directories, which a CI PATH may lack.
SYSTEM_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"]
)


class EngineFailed(RuntimeError):
    pass


def install_missing_packages() -> None:
    missing = [pkg for binary, pkg in APT_PACKAGES.items() if not which(binary)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise EngineFailed(f"need root to apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    subprocess.run(install, check=True, env=env)


def which(binary: str) -> str:
    return shutil.which(binary, path=SYSTEM_PATH) or ""


class PrivateDocker:
    """`dockerd` on a private socket; `run()` calls its CLI, `env` points other clients at it."""

    def __init__(self, cache: Path = CACHE) -> None:
        self.data_root = cache / "data-root"
        self.exec_root = Path(tempfile.mkdtemp(prefix="kd-", dir="/tmp"))  # short: socket paths
        self.socket = self.exec_root / "docker.sock"
        self.log_path = cache / "dockerd.log"
        self.env = {**os.environ, "PATH": SYSTEM_PATH, "DOCKER_HOST": f"unix://{self.socket}"}
        self.lock_path = cache / "engine.lock"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None

    def start(self) -> PrivateDocker:
        """Start dockerd; wait first for any other run on this machine using the same cache
        (two engines must never share a data root)."""
        self.data_root.mkdir(parents=True, exist_ok=True)
        self._lock = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        argv = [
            which("dockerd") or "dockerd",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--userland-proxy=false",
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--pidfile={self.exec_root / 'dockerd.pid'}",
            f"--host=unix://{self.socket}",
            "--containerd-namespace=kennel-test",
            "--containerd-plugins-namespace=kennel-test-plugins",
        ]
        with self.log_path.open("wb") as log:  # the last run's log only
            self._process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PATH": SYSTEM_PATH}
            )
        deadline = time.monotonic() + 60
        while self.run("version", check=False).returncode != 0:
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EngineFailed(f"dockerd did not start; see {self.log_path}")
            time.sleep(0.5)
        return self

    def run(self, *args: str, check: bool = True, stdin: bytes | None = None) -> Completed:
        result = subprocess.run(
            [DOCKER_CLI, *args], env=self.env, input=stdin, capture_output=True, check=False
        )
        if check and result.returncode != 0:
            raise EngineFailed(f"docker {' '.join(args)}: {result.stderr.decode()[-2000:]}")
        return result

    def has_image(self, name: str) -> bool:
        return self.run("image", "inspect", name, check=False).returncode == 0

    def stop(self) -> None:
        """Stop dockerd (it stops its containerd) and remove its exec root; keep the data root.
        dockerd leaves its network namespace bind-mounted there: unmount what is left first."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for mount_point in sorted(self.mounts(), reverse=True):  # deepest first
            subprocess.run(["umount", mount_point], capture_output=True, check=False)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def mounts(self) -> list[str]:
        """Mount points under the exec root (from /proc/self/mounts)."""
        prefix = f"{self.exec_root}/"
        lines = Path("/proc/self/mounts").read_text().splitlines()
        return [point for _, point, *_ in map(str.split, lines) if point.startswith(prefix)]

    def removed(self) -> bool:
        return not self.exec_root.exists() and not self.mounts()


Completed = subprocess.CompletedProcess[bytes]


def ensure_base_image(docker: PrivateDocker, cache: Path = CACHE) -> str:
    """BASE_IMAGE in the engine: already there, imported from the cached root filesystem
    tarball, or debootstrapped first (about two minutes)."""
    if docker.has_image(BASE_IMAGE):
        return BASE_IMAGE
    tarball = cache / f"debian-{SUITE}-rootfs.tar"
    if not tarball.exists():
        debootstrap(tarball)
    changes = [
        f"ENV SSL_CERT_FILE={CA_BUNDLE} PIP_CERT={CA_BUNDLE}",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["bash"]',
    ]
    flags = [arg for change in changes for arg in ("--change", change)]
    docker.run("import", *flags, str(tarball), BASE_IMAGE)
    return BASE_IMAGE


def debootstrap(tarball: Path) -> None:
    with tempfile.TemporaryDirectory(dir=tarball.parent) as work:
        root = Path(work) / "rootfs"
        _run(
            ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", SUITE, root, MIRROR]
        )
        shutil.copyfile(CA_BUNDLE, root / CA_BUNDLE.relative_to("/"))  # the host's trust
        for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (root / leftovers).glob("*"):
                if path.is_file():
                    path.unlink()
        partial = tarball.with_suffix(".partial")
        _run(["tar", "-C", root, "-cf", partial, "."])
        partial.rename(tarball)


def _run(argv: Sequence[str | Path]) -> None:
    result = subprocess.run([str(a) for a in argv], capture_output=True, check=False)
    if result.returncode != 0:
        raise EngineFailed(f"{argv[0]} failed: {result.stderr.decode()[-2000:]}")
