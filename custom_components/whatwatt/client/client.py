"""Async client for the local REST API and the live stream of a whatwatt Go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping
from contextlib import contextmanager
import json
import logging
import re
from typing import Any, Final, NoReturn

import aiohttp
from yarl import URL

from .auth import AnyAuth, AuthScheme
from .exceptions import (
    WhatwattAuthError,
    WhatwattConnectionError,
    WhatwattLicenseRequired,
    WhatwattResponseError,
    WhatwattScalersNotApplied,
    WhatwattSettingNotApplied,
    WhatwattTimeoutError,
)
from .meter_settings import SECRET_KEYS, MeterSettings, full_settings, not_applied, validate
from .models import LiveEvent, Report
from .scalers import Scaler, same_scalers, validate as validate_scalers
from .sse import read_events
from .system_info import SystemInfo

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT: Final = 80

SYSTEM: Final = "/api/v1/system"
METER_SETTINGS: Final = "/api/v1/meter/settings"
SETTINGS: Final = "/api/v1/settings"
REPORT: Final = "/api/v1/report"
REBOOT: Final = "/api/v1/reboot"
SCALERS_CURRENT: Final = "/api/v1/meter/scalers/current"
SCALERS_CUSTOM: Final = "/api/v1/meter/scalers/custom"
LIVE: Final = "/api/v1/live"
_LICENSED: Final = frozenset({REPORT})
"""Routes that answer 404 on a FREE license (only the ones this client uses)."""
_STREAM_TIMEOUT: Final = aiohttp.ClientTimeout(total=None, sock_read=None)
_MAX_ERROR_TEXT: Final = 200


def device_url(host: str, port: int = DEFAULT_PORT) -> URL:
    """Return the address of a device: ``http://192.0.2.1``, ``http://[fe80::1]:8080``.

    yarl brackets an IPv6 address and leaves out the default port.
    """
    return URL.build(scheme="http", host=host, port=port)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """Blank out every secret the device might echo back (in any letter case: keys are hex)."""
    for secret in secrets:
        if secret:
            text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    return text


class WhatwattClient:
    """One whatwatt Go device.

    The aiohttp session is injected and never closed here.  Requests go out one at a time (a
    lock): the Digest nonce count is shared and the device is a small microcontroller.
    """

    def __init__(
        self,
        host: str,
        session: aiohttp.ClientSession,
        password: str | None = None,
        port: int = DEFAULT_PORT,
        request_timeout: float = 10.0,
    ) -> None:
        """Talk to ``host``; ``password`` is the Web UI password (``None``: not protected)."""
        self.host = host
        self.port = port
        self.request_timeout = request_timeout
        self._session = session
        self._base = device_url(host, port)
        self._name = self._base.raw_authority
        self._lock = asyncio.Lock()
        self._password = password or None
        self._auth = AnyAuth(self._password)

    def __repr__(self) -> str:
        """Name the device, never the password."""
        return f"WhatwattClient({self._name!r})"

    @property
    def auth_scheme(self) -> AuthScheme | None:
        """``digest`` or ``basic`` once the device has asked for credentials, else ``None``."""
        return self._auth.scheme

    # --- endpoints -------------------------------------------------------------------------

    async def system(self) -> SystemInfo:
        """Read ``/api/v1/system``: identity, firmware, license, meter link, network."""
        return SystemInfo.from_dict(await self._get_object(SYSTEM))

    async def meter_settings(self) -> MeterSettings:
        """Read the meter communication settings (the DLMS keys are never returned)."""
        return MeterSettings.from_dict(await self._get_object(METER_SETTINGS))

    async def update_meter_settings(self, **changed: Any) -> MeterSettings:
        """Change only the given meter settings (PUT), then return them as read back.

        Raises WhatwattValidationError, before sending anything, for an unknown field or a bad
        value, and WhatwattSettingNotApplied when the device reads back another value than the
        one written.  Nothing given: nothing is sent, the current settings are returned.
        """
        body = validate(changed)
        if body:
            await self._request("PUT", METER_SETTINGS, body, _key_values(body))
        return self._verified(body, await self.meter_settings())

    async def replace_meter_settings(self, values: Mapping[str, Any]) -> MeterSettings:
        """Replace all meter settings (POST; missing fields get their defaults), read back.

        Raises like ``update_meter_settings``.
        """
        body = full_settings(values)
        await self._request("POST", METER_SETTINGS, body, _key_values(body))
        return self._verified(body, await self.meter_settings())

    @staticmethod
    def _verified(sent: Mapping[str, Any], read_back: MeterSettings) -> MeterSettings:
        """Return the settings read back, or raise if one sent field did not take effect."""
        if (field := not_applied(sent, read_back)) is not None:
            raise WhatwattSettingNotApplied(field, read_back)
        return read_back

    async def settings(self) -> dict[str, Any]:
        """Read the general settings (``/api/v1/settings``); the password is never included."""
        return _without_password(await self._get_object(SETTINGS))

    async def report(self) -> Report:
        """Read the latest meter report; WhatwattLicenseRequired on a FREE license."""
        return Report.from_dict(await self._get_object(REPORT))

    async def reboot(self) -> None:
        """Reboot the device (it is offline for 30 to 60 s afterwards)."""
        await self._request("POST", REBOOT)

    async def current_scalers(self) -> list[Scaler]:
        """Read the scalers in use (DLMS meters only; an empty list otherwise)."""
        return await self._get_scalers(SCALERS_CURRENT)

    async def custom_scalers(self) -> list[Scaler]:
        """Read the user-defined scalers (applied while ``scalers_set`` is ``custom``)."""
        return await self._get_scalers(SCALERS_CUSTOM)

    async def set_custom_scalers(
        self, scalers: Iterable[Scaler | Mapping[str, Any]]
    ) -> list[Scaler]:
        """Replace the whole custom scaler list (one POST), then return it as read back.

        Raises WhatwattValidationError, before sending anything, for a bad list (see
        ``scalers.validate``; OBIS codes are sent in canonical form), and
        WhatwattScalersNotApplied when the device reads back another list.  An empty list
        clears the custom scalers.
        """
        body = validate_scalers(scalers)
        await self._request("POST", SCALERS_CUSTOM, [scaler.as_dict() for scaler in body])
        read_back = await self.custom_scalers()
        if not same_scalers(body, read_back):
            raise WhatwattScalersNotApplied(read_back)
        return read_back

    async def live(self, stale_after: float | None = None) -> AsyncGenerator[LiveEvent]:
        """Yield the ``live`` events of the SSE stream until it fails.

        The device serves one stream at a time.  Raises WhatwattStreamTakenOver when it closes
        the stream before the first event (another client holds it: back off),
        WhatwattConnectionError when an established stream ends (reconnect), and
        WhatwattStreamStale after ``stale_after`` seconds without an event.  Close the
        iterator (``contextlib.aclosing``) to end the stream.
        """
        response = await self._open_stream()
        try:
            async for event in read_events(
                response.content, stale_after=stale_after, name=self._name
            ):
                if event.event == "live":
                    yield LiveEvent.from_dict(self._decode_event(event.data))
        finally:
            response.close()

    # --- transport -------------------------------------------------------------------------

    @contextmanager
    def _errors(self, method: str, path: str, secrets: Iterable[str] = ()) -> Iterator[None]:
        """Turn transport failures into the client's exceptions."""
        try:
            yield
        except TimeoutError as err:
            raise WhatwattTimeoutError(
                f"{self._name} did not answer {method} {path} within {self.request_timeout:g} s"
            ) from err
        except aiohttp.ClientError as err:
            detail = _scrub(str(err), (self._password or "", *secrets))
            raise WhatwattConnectionError(
                f"Cannot talk to {self._name} ({method} {path}): {type(err).__name__} {detail}"
            ) from err

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        """Start a request through the auth middleware (per request: the session is shared).

        Redirects are never followed (the device does not redirect), so the session's own
        middlewares, which a per-request list replaces, have nothing to guard.
        """
        return self._session.request(
            method,
            self._base.with_path(path),
            middlewares=(self._auth,),
            allow_redirects=False,
            **kwargs,
        )

    async def _request(
        self, method: str, path: str, body: Any = None, secrets: Iterable[str] = ()
    ) -> Any:
        """Send one request; return the JSON answer (``None`` when there is no body)."""
        secrets = tuple(secrets)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":")).encode()
        async with self._lock:
            with self._errors(method, path, secrets):
                async with asyncio.timeout(self.request_timeout):
                    async with self._send(method, path, data=data, headers=headers) as response:
                        status, payload = response.status, await response.read()
        _LOGGER.debug("%s %s %s -> %s", self._name, method, path, status)
        if not 200 <= status < 300:
            self._raise_for_status(method, path, status, payload, secrets)
        if method != "GET" or not payload.strip():
            return None
        try:
            return json.loads(payload)
        except ValueError:
            raise WhatwattResponseError(
                f"{self._name} sent malformed JSON for {method} {path}", status=status
            ) from None

    async def _get_scalers(self, path: str) -> list[Scaler]:
        """GET a scaler list: a JSON array (no body counts as an empty list)."""
        data = await self._request("GET", path)
        if data is None:
            return []
        if not isinstance(data, list):
            raise WhatwattResponseError(
                f"{self._name} sent {type(data).__name__} instead of an array for {path}"
            )
        return Scaler.list_from(data)

    async def _get_object(self, path: str) -> dict[str, Any]:
        """GET a JSON object."""
        data = await self._request("GET", path)
        if not isinstance(data, dict):
            raise WhatwattResponseError(
                f"{self._name} sent {type(data).__name__} instead of an object for {path}"
            )
        return data

    def _raise_for_status(
        self, method: str, path: str, status: int, payload: bytes, secrets: tuple[str, ...]
    ) -> NoReturn:
        """Raise the error that fits an error answer, keeping the device's own words."""
        if status == 401:
            if self._password is None:
                raise WhatwattAuthError(f"{self._name} requires a password")
            raise WhatwattAuthError(f"{self._name} rejected the password")
        scrub = (self._password or "", *secrets)
        error, message = _error_body(payload)
        error = None if error is None else _scrub(error, scrub)
        message = None if message is None else _scrub(message, scrub)[:_MAX_ERROR_TEXT]
        cls = WhatwattLicenseRequired if status == 404 and path in _LICENSED else None
        what = "needs a PLUS or PRO license" if cls else f"answered {status}"
        said = message or error
        raise (cls or WhatwattResponseError)(
            f"{self._name} {what} for {method} {path}" + (f": {said}" if said else ""),
            status=status,
            error=error,
            device_message=message,
        )

    async def _open_stream(self) -> aiohttp.ClientResponse:
        """Connect to the live stream; the lock is held only until the answer's headers."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        async with self._lock:
            with self._errors("GET", LIVE):
                async with asyncio.timeout(self.request_timeout):
                    response: aiohttp.ClientResponse = await self._send(
                        "GET", LIVE, headers=headers, timeout=_STREAM_TIMEOUT
                    )
                    if response.status != 200:
                        try:
                            payload = await response.read()
                        finally:
                            response.release()
        _LOGGER.debug("%s GET %s -> %s", self._name, LIVE, response.status)
        if response.status != 200:
            self._raise_for_status("GET", LIVE, response.status, payload, ())
        return response

    def _decode_event(self, data: str) -> dict[str, Any]:
        """Parse the JSON object of a live event."""
        try:
            value = json.loads(data)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise WhatwattResponseError(f"{self._name} sent a malformed live event")
        return value


def _key_values(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The DLMS keys in a meter-settings body (to keep them out of error messages)."""
    return tuple(value for key in SECRET_KEYS if isinstance(value := body.get(key), str))


def _without_password(settings: dict[str, Any]) -> dict[str, Any]:
    """Drop ``system.password`` should a firmware ever return it."""
    system = settings.get("system")
    if isinstance(system, dict) and "password" in system:
        settings = {**settings, "system": {k: v for k, v in system.items() if k != "password"}}
    return settings


def _error_body(payload: bytes) -> tuple[str | None, str | None]:
    """Read ``{"error": ..., "message": ...}``, or take a text body as the message."""
    text = payload.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return None, text or None
    if not isinstance(data, dict):
        return None, text or None
    error, message = data.get("error"), data.get("message")
    return (
        error if isinstance(error, str) else None,
        message if isinstance(message, str) else None,
    )
