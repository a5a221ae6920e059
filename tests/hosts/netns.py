"""Several hosts on one machine: network namespaces joined by a bridge, made and removed here.

Each `Host` is a network namespace with one veth link to a bridge that lives in a namespace of
its own (the switch), so nothing is added to the machine's own network. Addresses come from
198.18.0.0/15, the range reserved for network tests. Cutting a host's link (`link(up=False)`)
is what a pulled cable or a partition looks like to the processes on it.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stack.processes import Service

SUBNET = "198.18.0"
_networks = itertools.count()


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Host:
    name: str  # the namespace's name
    address: str
    network: Network
    services: list[Service] = field(default_factory=list)

    @property
    def device(self) -> str:
        return "eth0"

    def run(
        self, name: str, argv: list[str], log_dir: Path, env: Mapping[str, str] | None = None
    ) -> Service:
        """Start a process inside this host's namespace (`ip netns exec` execs it in place)."""
        service = Service(name, ["ip", "netns", "exec", self.name, *argv], log_dir, env).start()
        self.services.append(service)
        return service

    def python(
        self, name: str, module: str, log_dir: Path, env: Mapping[str, str] | None = None
    ) -> Service:
        return self.run(name, [sys.executable, "-m", module], log_dir, env)

    def link(self, up: bool) -> None:
        ip("-n", self.name, "link", "set", "dev", self.device, "up" if up else "down")


class Network:
    """A switch namespace with a bridge; `add_host` plugs a new namespace into it."""

    def __init__(self) -> None:
        self.tag = f"k{os.getpid() % 100000}n{next(_networks)}"
        self.switch = f"{self.tag}-sw"
        self.hosts: list[Host] = []
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")

    def add_host(self, role: str) -> Host:
        index = len(self.hosts) + 1
        host = Host(f"{self.tag}-{role}", f"{SUBNET}.{index}", self)
        port = f"p{index}"
        ip("netns", "add", host.name)
        ip("link", "add", port, "netns", self.switch, "type", "veth", "peer", "name",
           host.device, "netns", host.name)  # fmt: skip
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        ip("-n", host.name, "addr", "add", f"{host.address}/24", "dev", host.device)
        ip("-n", host.name, "link", "set", host.device, "up")
        ip("-n", host.name, "link", "set", "lo", "up")
        self.hosts.append(host)
        return host

    def close(self) -> None:
        """Stop every process on every host, then remove the namespaces (and their links)."""
        for host in self.hosts:
            for service in host.services:
                service.stop(timeout_s=10)
        for name in [h.name for h in self.hosts] + [self.switch]:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
