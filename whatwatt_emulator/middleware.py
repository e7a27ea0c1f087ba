"""The request pipeline of the device: faults, routing errors, CORS, auth, handler, log."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from .live import abort_transport
from .log import LoggedRequest
from .meter_schema import SettingsError
from .responses import emulator_of, error_response, json_response

if TYPE_CHECKING:
    from .emulator import Emulator

_LOGGER: Final = logging.getLogger(__name__)
MAX_BODY: Final = 8192
ADMIN_PREFIX: Final = "/_emulator/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@dataclass
class _Seen:
    """What the device knows about a request, for its log."""

    emu: Emulator
    request: web.Request
    raw: bytes
    scheme: str = "none"
    authorized: bool = True

    def log(self, status: int) -> None:
        request = self.request
        self.emu.log.add(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                body=_parse(self.raw),
                auth=self.scheme,
                authorized=self.authorized,
                status=status,
                time=time.time(),
            )
        )
        _LOGGER.debug("%s %s -> %s", request.method, request.path, status)  # never bodies

    def drop(self) -> web.HTTPException:
        """Close the connection without an answer; return what the handler must raise."""
        scheme = self.request.headers.get("Authorization", "").partition(" ")[0].lower()
        self.scheme = scheme if scheme in ("digest", "basic") else "none"
        self.authorized = False
        self.log(0)
        abort_transport(self.request)
        return web.HTTPException()  # the connection is gone; aiohttp writes nothing


def _allowed_origins(emu: Emulator) -> set[str]:
    names = {emu.host_name, emu.realm.removesuffix(".local"), emu.host}
    return {n.lower() for n in names} | {f"{n.lower()}.local" for n in names}


def _origin_allowed(emu: Emulator, origin: str | None) -> bool:
    if origin is None:
        return True
    host = origin.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].lower()
    return host in _allowed_origins(emu)


def _authenticate(seen: _Seen) -> web.Response | None:
    emu, request = seen.emu, seen.request
    password = emu.password
    if password is None:
        return None
    result = emu.auth.check(
        request.headers.get("Authorization"),
        password=password,
        realm=emu.realm,
        method=request.method,
        uri=request.raw_path,
        body=seen.raw,
    )
    seen.scheme, seen.authorized = result.scheme, result.ok
    if result.ok:
        return None
    response = error_response(401)
    response.headers["WWW-Authenticate"] = emu.auth.challenge(emu.realm, stale=result.stale)
    return response


def _gate(seen: _Seen) -> web.Response | None:
    """Return the answer when the request does not reach its handler."""
    emu, request = seen.emu, seen.request
    if emu.faults.take("fail_count"):
        return error_response(emu.faults.fail_status)
    if (route_error := request.match_info.http_exception) is not None:
        response = error_response(route_error.status)
        if "Allow" in route_error.headers:
            response.headers["Allow"] = route_error.headers["Allow"]
        return response
    if not _origin_allowed(emu, request.headers.get("Origin")):
        return error_response(404)  # CORS: a disallowed Origin gets a plain 404
    if len(seen.raw) > MAX_BODY:
        return error_response(413)
    return _authenticate(seen)


def _malform(emu: Emulator, response: web.StreamResponse) -> None:
    if (
        isinstance(response, web.Response)
        and response.status == 200
        and response.content_type == "application/json"
        and isinstance(body := response.body, bytes)
        and emu.faults.take("malformed_count")
    ):
        response.body = body[: max(1, len(body) // 2)]


@web.middleware
async def device_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run a request through the device."""
    emu = emulator_of(request)
    if emu.config.admin and request.path.startswith(ADMIN_PREFIX):
        return await handler(request)  # the test harness: no faults, no auth, not logged
    seen = _Seen(emu, request, await request.read() if request.can_read_body else b"")
    faults = emu.faults
    if faults.latency > 0:
        await asyncio.sleep(faults.latency)
    if faults.expire_requested:
        faults.expire_requested = False
        emu.auth.expire_nonces()
    if faults.take("reset_count"):
        raise seen.drop()
    response: web.StreamResponse | None = _gate(seen)
    if response is None and request.method == "PUT" and faults.reboot_put:
        faults.reboot_put = False
        if faults.reboot_put_applied:
            await handler(request)
        emu.schedule_reboot(delay=0.0)
        raise seen.drop()
    if response is None:
        try:
            response = await handler(request)
        except SettingsError as err:
            response = json_response(err.body(), 400)
    _malform(emu, response)
    seen.log(response.status)
    origin = request.headers.get("Origin")
    if origin is not None and response.status != 404 and not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response
