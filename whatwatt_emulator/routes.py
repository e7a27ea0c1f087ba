"""The device's HTTP API: middleware (faults, auth, log, headers) and the endpoint handlers."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from . import general_settings, meter_schema, scalers, system_info
from .live import SSE_HEADERS, LiveStream, abort_transport
from .log import LoggedRequest
from .meter import timestamps
from .meter_schema import SettingsError

if TYPE_CHECKING:
    from .emulator import Emulator

_LOGGER: Final = logging.getLogger(__name__)
JSON_HEADERS: Final = {
    "Content-Type": "application/json; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store, no-cache",
}
MAX_BODY: Final = 8192
ADMIN_PREFIX: Final = "/_emulator/"
EMU_KEY: Final = web.AppKey("emulator", object)
_MESSAGES: Final = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Request body too large"),
    500: ("internal_error", "Internal device error"),
    503: ("service_unavailable", "Service temporarily unavailable"),
}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Return a JSON answer with the device's headers (DIGEST 3.3)."""
    all_headers = {**JSON_HEADERS, **headers} if headers else JSON_HEADERS
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, headers=all_headers)


def error_response(
    status: int, error: str | None = None, message: str | None = None, **details: Any
) -> web.Response:
    """Return ``{"error", "message", "details"}`` with ``status``."""
    default_error, default_message = _MESSAGES.get(status, ("error", "Error"))
    body: dict[str, Any] = {"error": error or default_error, "message": message or default_message}
    if details:
        body["details"] = details
    return json_response(body, status)


def _emu(request: web.Request) -> Emulator:
    emu: Emulator = request.app[EMU_KEY]  # type: ignore[assignment]
    return emu


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _json_body(request: web.Request, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as err:
        raise SettingsError("invalid_json", "The body is not valid JSON", {}) from err


@web.middleware
async def device_middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Run a request through the device: faults, routing, auth, handler, log."""
    emu = _emu(request)
    if request.path.startswith(ADMIN_PREFIX) and emu.config.admin:
        return await handler(request)  # the test harness: no faults, no auth, not logged
    raw = await request.read() if request.can_read_body else b""
    entry = {"method": request.method, "path": request.path, "query": dict(request.query)}
    faults = emu.faults
    scheme, authorized = "none", True
    if faults.latency > 0:
        await asyncio.sleep(faults.latency)
    if faults.expire_requested:
        faults.expire_requested = False
        emu.auth.expire_nonces()
    response: web.StreamResponse | None = None
    if faults.take("reset_count"):
        _log(emu, entry, raw, scheme, authorized, 0)
        abort_transport(request)
        raise web.HTTPException()  # the connection is gone; nothing will be written
    if faults.take("fail_count"):
        response = error_response(faults.fail_status)
    elif (route_error := request.match_info.http_exception) is not None:
        response = error_response(route_error.status)
        if route_error.status == 405:
            response.headers["Allow"] = route_error.headers.get("Allow", "")
    elif not _origin_allowed(emu, request):
        response = error_response(404)  # CORS: disallowed Origin gets a plain 404
    elif len(raw) > MAX_BODY:
        response = error_response(413)
    else:
        password = emu.password
        if password is not None:
            result = emu.auth.check(
                request.headers.get("Authorization"),
                password=password,
                realm=emu.realm,
                method=request.method,
                uri=request.raw_path,
                body=raw,
            )
            scheme, authorized = result.scheme, result.ok
            if not result.ok:
                challenge = emu.auth.challenge(emu.realm, stale=result.stale)
                response = error_response(401)
                response.headers["WWW-Authenticate"] = challenge
    if response is None and request.method == "PUT" and faults.reboot_put:
        faults.reboot_put = False
        if faults.reboot_put_applied:
            await handler(request)
        _log(emu, entry, raw, scheme, authorized, 0)
        abort_transport(request)
        emu.schedule_reboot(delay=0.0)
        raise web.HTTPException()
    if response is None:
        try:
            response = await handler(request)
        except SettingsError as err:
            response = json_response(err.body(), 400)
    if (
        isinstance(response, web.Response)
        and response.status == 200
        and response.content_type == "application/json"
        and faults.take("malformed_count")
    ):
        body = response.body
        assert isinstance(body, bytes)
        response.body = body[: max(1, len(body) // 2)]
    _log(emu, entry, raw, scheme, authorized, response.status)
    _add_cors(emu, request, response)
    return response


def _log(
    emu: Emulator, entry: dict[str, Any], raw: bytes, scheme: str, authorized: bool, status: int
) -> None:
    emu.log.add(
        LoggedRequest(
            method=entry["method"],
            path=entry["path"],
            query=entry["query"],
            body=_parse(raw),
            auth=scheme,
            authorized=authorized,
            status=status,
            time=time.time(),
        )
    )
    _LOGGER.debug("%s %s -> %s", entry["method"], entry["path"], status)


def _allowed_origins(emu: Emulator) -> set[str]:
    names = {emu.host_name, emu.realm.removesuffix(".local"), emu.host}
    return {n.lower() for n in names} | {f"{n.lower()}.local" for n in names}


def _origin_allowed(emu: Emulator, request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    host = origin.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].lower()
    return host in _allowed_origins(emu)


def _add_cors(emu: Emulator, request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and response.status != 404 and not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = origin


# ----- endpoints -----------------------------------------------------------------------------


async def get_system(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/system."""
    emu = _emu(request)
    status = emu.meter_status()
    reading = emu.reading()
    state = system_info.SystemState(
        now=time.time(),
        boot_wall=emu.boot_wall,
        uptime=emu.uptime(),
        meter_status=status,
        tariff=reading.tariff if reading is not None else None,
        host=emu.host,
    )
    return json_response(
        system_info.build(emu.config, emu.profile, state, emu.settings, emu.meter_settings)
    )


def _meter_object(emu: Emulator, status: str) -> dict[str, Any]:
    profile = emu.profile
    if status in ("NOT CONNECTED", "NO DATA"):
        return {"status": status}
    meter: dict[str, Any] = {
        "status": status,
        "interface": profile.interface,
        "protocol": profile.protocol,
    }
    if profile.protocol_version:
        meter["protocol_version"] = profile.protocol_version
    meter["logical_name"] = profile.logical_name
    if profile.meter_id:
        meter["id"] = profile.meter_id
    if profile.model:
        meter["model"] = profile.model
    meter["vendor"] = profile.vendor
    meter["prefix"] = profile.prefix
    return meter


async def get_report(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/report (PLUS/PRO; 404 "License required" on FREE)."""
    emu = _emu(request)
    if emu.config.licence == "FREE":
        return error_response(404, "license_required", "License required")
    status = emu.meter_status()
    reading = emu.reading()
    report = emu.views.report_body(reading) if reading is not None else {"id": emu.last_report_id}
    system = {
        "id": emu.config.device_id,
        **timestamps(time.time()),
        "boot_id": emu.boot_id,
        "time_since_boot": int(emu.uptime()),
    }
    return json_response({"report": report, "meter": _meter_object(emu, status), "system": system})


async def get_live(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/live: one ``live`` event per meter report; a new client ends the old one."""
    emu = _emu(request)
    response = web.StreamResponse(status=200, headers=SSE_HEADERS)
    response.force_close()
    await response.prepare(request)
    stream = LiveStream(request, response)
    emu.attach_stream(stream)
    try:
        while not stream.gone:
            if emu.faults.drop_after_events == 0:
                emu.faults.drop_after_events = None
                stream.cut_off()
                break
            reading = emu.reading()
            if reading is not None:
                await emu.send_reading(stream, reading)
            await stream.wait(emu.next_due())
    finally:
        emu.detach_stream(stream)
    if stream.cut:
        raise web.HTTPException()  # the connection was dropped: nothing more to write
    return response


async def meter_settings(request: web.Request) -> web.StreamResponse:
    """GET/PUT/POST /api/v1/meter/settings (POST: missing fields back to defaults)."""
    emu = _emu(request)
    if request.method != "GET":
        values = meter_schema.validate(_json_body(request, await request.read()))
        base = meter_schema.defaults() if request.method == "POST" else emu.meter_settings
        emu.store_meter_settings(meter_schema.apply_keys({**base, **values}))
    return json_response(meter_schema.readable(emu.meter_settings))


async def settings(request: web.Request) -> web.StreamResponse:
    """GET/PUT/POST /api/v1/settings (PUT merges, POST resets to zero/empty/false)."""
    emu = _emu(request)
    if request.method != "GET":
        emu.settings = general_settings.merged(
            emu.settings,
            _json_body(request, await request.read()),
            replace=request.method == "POST",
            ethernet_up=emu.config.ethernet_up,
        )
        await emu.sync_broadcast()
    return json_response(general_settings.public_view(emu.settings))


async def scalers_current(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/meter/scalers/current (DLMS meters only, ``[]`` otherwise)."""
    emu = _emu(request)
    if emu.meter_status() != "OK":
        return json_response([])
    ms = emu.meter_settings
    return json_response(scalers.current(emu.profile, ms["scalers_set"], emu.custom_scalers))


async def scalers_custom(request: web.Request) -> web.StreamResponse:
    """GET/POST /api/v1/meter/scalers/custom (POST replaces the list)."""
    emu = _emu(request)
    if request.method == "POST":
        emu.custom_scalers = scalers.validate_custom(_json_body(request, await request.read()))
        emu.refresh_factors()
    return json_response(emu.custom_scalers)


async def reboot(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/reboot: 204, then offline for a while."""
    _emu(request).schedule_reboot()
    return web.Response(status=204)


async def restore(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/restore: 204, factory settings, reboot."""
    _emu(request).schedule_reboot(factory_reset=True)
    return web.Response(status=204)


async def wps(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/wifi/wps: 204 (starts a WPS window on a real device)."""
    return web.Response(status=204)


def build_app(emu: Emulator) -> web.Application:
    """Return the aiohttp application of one emulator."""
    app = web.Application(middlewares=[device_middleware], client_max_size=1024 * 1024)
    app[EMU_KEY] = emu
    router = app.router
    router.add_get("/api/v1/system", get_system, allow_head=False)
    router.add_get("/api/v1/report", get_report, allow_head=False)
    router.add_get("/api/v1/live", get_live, allow_head=False)
    for method in ("GET", "PUT", "POST"):
        router.add_route(method, "/api/v1/settings", settings)
        router.add_route(method, "/api/v1/meter/settings", meter_settings)
    router.add_get("/api/v1/meter/scalers/current", scalers_current, allow_head=False)
    router.add_get("/api/v1/meter/scalers/custom", scalers_custom, allow_head=False)
    router.add_post("/api/v1/meter/scalers/custom", scalers_custom)
    router.add_post("/api/v1/reboot", reboot)
    router.add_post("/api/v1/restore", restore)
    router.add_post("/api/v1/wifi/wps", wps)
    return app
