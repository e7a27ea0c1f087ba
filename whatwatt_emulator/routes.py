"""The device's HTTP API: middleware (faults, auth, log, headers) and the endpoint handlers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import general_settings, meter_schema, scalers, system_info
from .live import SSE_HEADERS, LiveStream
from .meter import timestamps
from .meter_schema import SettingsError
from .middleware import device_middleware
from .responses import EMU_KEY, emulator_of as _emu, error_response, json_response

if TYPE_CHECKING:
    from .emulator import Emulator


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as err:
        raise SettingsError("invalid_json", "The body is not valid JSON", {}) from err


async def get_system(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/system."""
    emu = _emu(request)
    status = emu.meter_status()
    reading = emu.reading()
    world = emu.clock.world()
    state = system_info.SystemState(
        now=world,
        meter_now=emu.shown_time(world),
        encrypted=emu.profile.encrypted,
        authenticated=emu.config.meter_auth_key is not None,
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
        **timestamps(emu.clock.world()),
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
        values = meter_schema.validate(_json_body(await request.read()))
        base = meter_schema.defaults() if request.method == "POST" else emu.meter_settings
        emu.store_meter_settings(meter_schema.apply_keys({**base, **values}))
    return json_response(meter_schema.readable(emu.meter_settings))


async def settings(request: web.Request) -> web.StreamResponse:
    """GET/PUT/POST /api/v1/settings (PUT merges, POST resets to zero/empty/false)."""
    emu = _emu(request)
    if request.method != "GET":
        emu.settings = general_settings.merged(
            emu.settings,
            _json_body(await request.read()),
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
        emu.custom_scalers = scalers.validate_custom(_json_body(await request.read()))
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
