"""Two network namespaces joined by a veth pair: a private LAN for mDNS (needs root).

Home Assistant's zeroconf ignores loopback, so discovery needs a real (virtual) link. Each
namespace gets `lo` and one end of the veth pair, routes for the /24 and 224.0.0.0/4 only (no
default route: anything aimed at the internet fails at once), and an empty resolv.conf.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import subprocess


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)  # noqa: S603, S607


@dataclass(frozen=True)
class Lab:
    """A pair of namespaces: `ha` (Home Assistant side) and `dev` (device side)."""

    ha: str = "ww-ha"
    dev: str = "ww-dev"
    ha_ip: str = "10.77.0.1"
    dev_ip: str = "10.77.0.2"
    prefix: int = 24

    def exists(self) -> bool:
        """Return True when both namespaces exist."""
        names = {line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line}
        return {self.ha, self.dev} <= names

    def up(self) -> None:
        """Create (or repair) both namespaces and the veth link between them. Idempotent."""
        names = {line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line}
        for ns in (self.ha, self.dev):
            if ns not in names:
                _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            etc = Path("/etc/netns") / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text("")
        if _ip("-n", self.ha, "link", "show", "veth-ha", check=False).returncode:
            _ip(
                "link", "add", "veth-ha", "netns", self.ha, "type", "veth",
                "peer", "name", "veth-dev", "netns", self.dev,
            )  # fmt: skip
        for ns, dev, ip in ((self.ha, "veth-ha", self.ha_ip), (self.dev, "veth-dev", self.dev_ip)):
            _ip("-n", ns, "addr", "replace", f"{ip}/{self.prefix}", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "multicast", "on", "up")
            _ip("-n", ns, "route", "replace", "224.0.0.0/4", "dev", dev)

    def down(self) -> None:
        """Delete both namespaces (their veth ends and sockets go with them)."""
        for ns in (self.ha, self.dev):
            _ip("netns", "del", ns, check=False)
            etc = Path("/etc/netns") / ns
            with contextlib.suppress(OSError):
                (etc / "resolv.conf").unlink()
                etc.rmdir()

    def exec_prefix(self, ns: str) -> list[str]:
        """Return the argv prefix that runs a command inside namespace `ns`."""
        return ["ip", "netns", "exec", ns]


@contextlib.contextmanager
def entered(ns: str) -> Iterator[None]:
    """Move the calling thread into network namespace `ns` for the duration of the block.

    Sockets created inside keep that namespace after the block; child processes started inside
    inherit it.  Only the calling thread is affected.
    """
    with open("/proc/thread-self/ns/net", "rb") as home, open(f"/run/netns/{ns}", "rb") as target:
        os.setns(target.fileno(), os.CLONE_NEWNET)
        try:
            yield
        finally:
            os.setns(home.fileno(), os.CLONE_NEWNET)


def is_root() -> bool:
    """Return True when this process may create network namespaces."""
    return os.geteuid() == 0
