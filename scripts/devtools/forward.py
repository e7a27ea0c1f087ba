"""A small TCP forwarder: listen on 127.0.0.1 here, connect to 127.0.0.1 in a network namespace.

Used by `scripts/develop --discovery` so the browser reaches Home Assistant, which runs inside
a namespace, at http://127.0.0.1:8123.  Runs in its own thread with its own event loop; the
outgoing sockets are created inside the namespace (setns affects only this thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading


class Forwarder(threading.Thread):
    """Forward 127.0.0.1:`port` (this namespace) to 127.0.0.1:`target_port` in `netns`."""

    def __init__(self, netns: str, port: int, target_port: int | None = None) -> None:
        """Prepare (call start() to run)."""
        super().__init__(name=f"forward-{port}", daemon=True)
        self.netns = netns
        self.port = port
        self.target_port = target_port or port
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self) -> None:
        """Thread body."""
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported to the starter via .error
            self.error = err
            self.ready.set()

    def stop(self) -> None:
        """Stop listening and close all connections."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ns_fd = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        self._home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.ready.set()
        async with server:
            await self._stop.wait()
        os.close(self._ns_fd)
        os.close(self._home_fd)

    def _socket_in_netns(self) -> socket.socket:
        os.setns(self._ns_fd, os.CLONE_NEWNET)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            os.setns(self._home_fd, os.CLONE_NEWNET)
        sock.setblocking(False)
        return sock

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = self._socket_in_netns()
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.target_port))
            up_reader, up_writer = await asyncio.open_connection(sock=sock)
        except OSError:
            sock.close()
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError, OSError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
