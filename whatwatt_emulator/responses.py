"""JSON answers with the device's headers, and access to the emulator from a request."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

if TYPE_CHECKING:
    from .emulator import Emulator

JSON_HEADERS: Final = {
    "Content-Type": "application/json; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store, no-cache",
}
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


def emulator_of(request: web.Request) -> Emulator:
    """Return the emulator that serves ``request``."""
    emu: Emulator = request.app[EMU_KEY]  # type: ignore[assignment]
    return emu


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Return a JSON answer with the device's headers (DIGEST 3.3, C27)."""
    all_headers = {**JSON_HEADERS, **headers} if headers else JSON_HEADERS
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, headers=all_headers)


def error_response(
    status: int, error: str | None = None, message: str | None = None
) -> web.Response:
    """Return ``{"error", "message"}`` with ``status`` (validation errors add ``details``)."""
    default_error, default_message = _MESSAGES.get(status, ("error", "Error"))
    body = {"error": error or default_error, "message": message or default_message}
    return json_response(body, status)
