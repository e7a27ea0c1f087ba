"""Admin endpoints under ``/_emulator/`` (only with ``admin=True`` / ``--admin``).

They drive faults and read the request log from outside the process (dev loop, benchmarks).
They bypass faults, auth and the request log.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .config import check_recognition_time
from .responses import error_response, json_response
from .submeters import SubmeterSpec

if TYPE_CHECKING:
    from .emulator import Emulator

_COUNTED = {
    "fail_next": ("status", "count"),
    "malformed_json_next": ("count",),
    "malformed_event_next": ("count",),
    "reset_next": ("count",),
    "drop_stream_after": ("events",),
    "reboot_during_next_put": ("applied",),
    "expire_nonces": (),
    "clear": (),
}


async def body(request: web.Request) -> dict[str, Any]:
    """Return the JSON object of a request ({} when empty); HTTPBadRequest for another type."""
    raw = await request.read()
    data = json.loads(raw) if raw else {}
    if not isinstance(data, dict):
        raise web.HTTPBadRequest
    return data


def add_admin_routes(app: web.Application, emu: Emulator) -> None:
    """Register the admin endpoints on ``app``."""

    async def get_log(request: web.Request) -> web.StreamResponse:
        return json_response([entry.as_dict() for entry in emu.log])

    async def clear_log(request: web.Request) -> web.StreamResponse:
        emu.log.clear()
        return web.Response(status=204)

    async def get_state(request: web.Request) -> web.StreamResponse:
        return json_response(
            {
                "online": emu.online,
                "boot_id": emu.boot_id,
                "meter_status": emu.meter_status(),
                "meter": emu.meter_truth(),
                "recognition_time": emu.config.recognition_time,
                "recognition_left": round(emu.recognition_left(), 3),
                "meter_settings": emu.meter_settings,
                "live_connections": emu.live_connections,
                "faults": emu.faults.state(),
                "mdns_interfaces": emu.mdns.interfaces() if emu.mdns else [],
                "submeters": emu.submeters(),
                "clock": emu.clock.state(),
                "load": None if emu.load is None else emu.load.as_dict(),
            }
        )

    async def fault(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        try:
            data = await body(request)
            if name == "latency":
                emu.faults.latency = float(data["seconds"])
            elif name in _COUNTED:
                kwargs = {k: data[k] for k in _COUNTED[name] if k in data}
                getattr(emu.faults, name)(**kwargs)
            else:
                return error_response(404)
        except (ValueError, TypeError, KeyError, web.HTTPBadRequest) as err:
            return error_response(400, "invalid_fault", str(err) or "invalid body")
        return json_response(emu.faults.state())

    async def password(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        emu.set_password(data.get("password"))
        return web.Response(status=204)

    async def meter_status(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        try:
            emu.set_meter_status(data.get("status"))
        except ValueError as err:
            return error_response(400, "invalid_status", str(err))
        return web.Response(status=204)

    async def meter(request: web.Request) -> web.StreamResponse:
        try:
            return json_response(emu.set_meter(**await body(request)))
        except (ValueError, web.HTTPBadRequest) as err:
            return error_response(400, "invalid_meter", str(err) or "invalid body")

    async def recognition_time(request: web.Request) -> web.StreamResponse:
        try:
            seconds = check_recognition_time((await body(request)).get("seconds"))
        except (ValueError, TypeError, web.HTTPBadRequest) as err:
            return error_response(400, "invalid_recognition_time", str(err) or "invalid body")
        emu.set_recognition_time(seconds)
        return web.Response(status=204)

    async def push_report(request: web.Request) -> web.StreamResponse:
        return json_response(await emu.push_report())

    async def reboot(request: web.Request) -> web.StreamResponse:
        emu.schedule_reboot()
        return web.Response(status=204)

    router = app.router
    router.add_get("/_emulator/log", get_log)
    router.add_delete("/_emulator/log", clear_log)
    router.add_get("/_emulator/state", get_state)
    router.add_post("/_emulator/faults/{name}", fault)
    router.add_post("/_emulator/password", password)
    router.add_post("/_emulator/meter_status", meter_status)
    router.add_post("/_emulator/meter", meter)
    router.add_post("/_emulator/recognition_time", recognition_time)
    router.add_post("/_emulator/push_report", push_report)
    router.add_post("/_emulator/reboot", reboot)
    _add_submeter_routes(router, emu)
    _add_world_routes(router, emu)


def _add_submeter_routes(router: web.UrlDispatcher, emu: Emulator) -> None:
    """``/_emulator/submeters``: list, pair, remove and read sub-meters (gas, water, heat)."""

    async def get_submeters(request: web.Request) -> web.StreamResponse:
        return json_response(emu.submeters())

    async def add_submeter(request: web.Request) -> web.StreamResponse:
        try:
            spec = SubmeterSpec(**await body(request))
            state = emu.add_submeter(
                spec.bus,
                spec.meter_id,
                spec.medium,
                interval=spec.interval,
                cumulative=spec.cumulative,
            )
        except (ValueError, TypeError, web.HTTPBadRequest) as err:
            return error_response(400, "invalid_submeter", str(err) or "invalid body")
        return json_response(state)

    async def remove_submeter(request: web.Request) -> web.StreamResponse:
        try:
            emu.remove_submeter(int(request.match_info["bus"]))
        except KeyError:
            return error_response(404, "no_submeter", "No sub-meter on this bus")
        return web.Response(status=204)

    async def advance_submeter(request: web.Request) -> web.StreamResponse:
        bus = int(request.match_info["bus"])
        try:
            emu.advance_submeter(bus, (await body(request)).get("amount", 0.0))
        except KeyError:
            return error_response(404, "no_submeter", "No sub-meter on this bus")
        except (ValueError, TypeError, web.HTTPBadRequest) as err:
            return error_response(400, "invalid_amount", str(err) or "invalid body")
        return json_response(next(m for m in emu.submeters() if m["bus"] == bus))

    async def submeter_flow(request: web.Request) -> web.StreamResponse:
        bus = int(request.match_info["bus"])
        try:
            data = await body(request)
            _only(data, {"flow", "silent"})
            state = emu.set_submeter_flow(bus, data.get("flow"), silent=data.get("silent", False))
        except KeyError:
            return error_response(404, "no_submeter", "No sub-meter on this bus")
        except (ValueError, TypeError, web.HTTPBadRequest) as err:
            return error_response(400, "invalid_flow", str(err) or "invalid body")
        return json_response(state)

    router.add_get("/_emulator/submeters", get_submeters)
    router.add_post("/_emulator/submeters", add_submeter)
    router.add_delete(r"/_emulator/submeters/{bus:\d+}", remove_submeter)
    router.add_post(r"/_emulator/submeters/{bus:\d+}/advance", advance_submeter)
    router.add_post(r"/_emulator/submeters/{bus:\d+}/flow", submeter_flow)


def _only(data: dict[str, Any], fields: set[str]) -> None:
    """Refuse a field the endpoint does not know (a typo must not pass silently)."""
    if unknown := set(data) - fields:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")


def _add_world_routes(router: web.UrlDispatcher, emu: Emulator) -> None:
    """``/_emulator/load`` and ``/_emulator/clock``: the meter's load and clock (demand)."""

    async def load(request: web.Request) -> web.StreamResponse:
        try:
            data = await body(request)
            emu.set_load(None if data.get("power", ...) is None else data)
        except (ValueError, TypeError, web.HTTPBadRequest) as err:
            return error_response(400, "invalid_load", str(err) or "invalid body")
        return json_response(None if emu.load is None else emu.load.as_dict())

    async def clock(request: web.Request) -> web.StreamResponse:
        try:
            data = await body(request)
            _only(data, {"offset", "speed", "ahead"})
            emu.clock.set(
                offset=data.get("offset"),
                speed=data.get("speed"),
                ahead=data.get("ahead"),
                unlimited="ahead" in data and data["ahead"] is None,
            )
        except (ValueError, TypeError, web.HTTPBadRequest) as err:
            return error_response(400, "invalid_clock", str(err) or "invalid body")
        if emu.stream is not None:
            emu.stream.wake()
        return json_response(emu.clock.state())

    router.add_post("/_emulator/load", load)
    router.add_post("/_emulator/clock", clock)
