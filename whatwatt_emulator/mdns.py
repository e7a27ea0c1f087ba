"""mDNS announcement (python-zeroconf), bound to the emulator's own address only.

The device announces ``_http._tcp`` instance ``whatwatt Go XXXXXX WebUI`` on host
``whatwatt-XXXXXX.local`` with TXT ``id=<device id>`` and ``type=100``.  The emulator binds
zeroconf to the one interface address it serves on (loopback by default, or a veth address
inside a network namespace), so it never multicasts on a real network card.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

SERVICE_TYPE: Final = "_http._tcp.local."


def instance_name(device_id: str) -> str:
    """Return the mDNS instance name, e.g. ``whatwatt Go 9F8124 WebUI``."""
    return f"whatwatt Go {device_id[-6:]} WebUI"


def mdns_host(device_id: str) -> str:
    """Return the mDNS host name, e.g. ``whatwatt-9F8124.local.``."""
    return f"whatwatt-{device_id[-6:]}.local."


class MdnsAnnouncer:
    """Announces one emulator while wanted."""

    def __init__(self, *, host: str, port: int, device_id: str) -> None:
        """Refuse anything but one concrete IPv4 address (no "all interfaces")."""
        address = ipaddress.ip_address(host)
        if address.version != 4 or address.is_unspecified or address.is_multicast:
            raise ValueError("mDNS needs one concrete IPv4 address to bind to, not " + host)
        self.host = host
        self.info = ServiceInfo(
            SERVICE_TYPE,
            f"{instance_name(device_id)}.{SERVICE_TYPE}",
            port=port,
            properties={"id": device_id, "type": "100"},
            server=mdns_host(device_id),
            addresses=[socket.inet_aton(host)],
        )
        self._zc: AsyncZeroconf | None = None
        self.announced = False

    async def start(self) -> None:
        """Open zeroconf on the one interface (nothing is announced yet)."""
        self._zc = AsyncZeroconf(interfaces=[self.host], ip_version=IPVersion.V4Only)

    async def want(self, on: bool) -> None:
        """Announce (``on``) or withdraw the service."""
        if self._zc is None or on == self.announced:
            return
        if on:
            await (await self._zc.async_register_service(self.info, allow_name_change=True))
        else:
            await (await self._zc.async_unregister_service(self.info))
        self.announced = on

    def interfaces(self) -> list[str]:
        """Return the interface addresses zeroconf sends multicast from (for assertions)."""
        if self._zc is None:
            return []
        found: set[str] = set()
        for wrapped in self._zc.zeroconf.engine.senders:
            raw = wrapped.sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4)
            found.add(socket.inet_ntoa(raw))
        return sorted(found)

    def bound_addresses(self) -> list[str]:
        """Return the local addresses of every zeroconf socket (send and receive)."""
        if self._zc is None:
            return []
        engine = self._zc.zeroconf.engine
        return sorted({str(w.sock.getsockname()[0]) for w in (*engine.senders, *engine.readers)})

    async def stop(self) -> None:
        """Withdraw the service (goodbye packets) and close zeroconf."""
        if self._zc is None:
            return
        await self.want(False)
        await self._zc.async_close()
        self._zc = None
