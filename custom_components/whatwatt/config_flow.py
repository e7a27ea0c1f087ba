"""Config flows of the whatwatt Go: zeroconf discovery, manual entry, reauth, reconfigure.

The password is asked for only when the device answers 401: most gateways run without one.
Every path reads ``/api/v1/system`` before anything is stored, and the device id it reports
is the entry's unique id (also the TXT ``id`` of its mDNS announcement).
"""

from __future__ import annotations

from collections.abc import Mapping
import ipaddress
import re
from typing import Any, Final, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_create_clientsession
from homeassistant.helpers.selector import TextSelector, TextSelectorConfig, TextSelectorType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio as vol
from yarl import URL

from .client import DEFAULT_PORT, SystemInfo, WhatwattClient, device_url
from .const import DOMAIN, LOGGER, ZEROCONF_TYPE_GATEWAY
from .entity import configuration_url, gateway_name
from .errors import translated_errors
from .options_flow import WhatwattOptionsFlow

_DEVICE_ID_RE: Final = re.compile(r"[0-9A-F]{12}")

_PASSWORD_SELECTOR: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
_HOST_SELECTOR: Final = TextSelector(TextSelectorConfig(autocomplete="off"))


def parse_host(value: str) -> tuple[str, int]:
    """Split what the user typed into host and port.

    Accepts ``whatwatt-9F8124.local``, ``192.168.1.5:8080``, ``http://192.168.1.5/``,
    ``fe80::1`` or ``[fe80::1]:8080``.  Raise ValueError for anything that is not a plain
    HTTP address of a device.
    """
    value = value.strip()
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        pass
    else:
        return value, DEFAULT_PORT
    try:
        url = URL(value if "://" in value else f"http://{value}")
    except (ValueError, TypeError) as err:
        raise ValueError("not an address") from err
    if (
        url.scheme != "http"
        or not url.host
        or url.user is not None
        or url.path not in ("", "/")
        or url.query_string
        or url.fragment
        or " " in url.host
    ):
        raise ValueError("not an address")
    return url.host, url.explicit_port or DEFAULT_PORT


def _entry_data(host: str, port: int, password: str | None) -> dict[str, Any]:
    """The entry's data: host, the port only when not 80, the password only when there is one."""
    data: dict[str, Any] = {CONF_HOST: host}
    if port != DEFAULT_PORT:
        data[CONF_PORT] = port
    if password:
        data[CONF_PASSWORD] = password
    return data


async def async_read_system(
    hass: HomeAssistant, host: str, port: int, password: str | None
) -> SystemInfo:
    """Read ``/api/v1/system`` over a short-lived session (nothing is kept after a flow)."""
    session = async_create_clientsession(hass, auto_cleanup=False)
    try:
        return await WhatwattClient(host, session, password=password, port=port).system()
    finally:
        session.detach()


class WhatwattConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a whatwatt Go: discovered (one click) or by address."""

    VERSION = 1
    MINOR_VERSION = 1

    _host: str
    _port: int = DEFAULT_PORT
    _device_id: str
    _name: str | None = None
    _needs_password: bool = False

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Return the options flow (meter settings, written to the device)."""
        return WhatwattOptionsFlow()

    async def _async_try(self, password: str | None, errors: dict[str, str]) -> SystemInfo | None:
        """Read the device at ``_host``/``_port``; fill ``errors`` and return None on failure."""
        try:
            with translated_errors(self.hass, None, name=self._host):
                return await async_read_system(self.hass, self._host, self._port, password)
        except HomeAssistantError as err:
            if err.translation_key != "invalid_auth":
                errors["base"] = str(err.translation_key)
            elif password:
                errors[CONF_PASSWORD] = "invalid_auth"
            else:
                errors["base"] = "password_required"
        except Exception:
            LOGGER.exception("Unexpected error reading %s", self._host)
            errors["base"] = "unknown_error"
        return None

    def _device_id_of(self, system: SystemInfo) -> str | None:
        device_id = (system.device.id or "").upper()
        return device_id if _DEVICE_ID_RE.fullmatch(device_id) else None

    # Manual entry -------------------------------------------------------------------------

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the address; ask for a password only if the device wants one."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                self._host, self._port = parse_host(user_input[CONF_HOST])
            except ValueError:
                errors[CONF_HOST] = "invalid_host"
            else:
                system = await self._async_try(None, errors)
                if errors.get("base") == "password_required":
                    return await self.async_step_password()
                if system is not None:
                    return await self._async_create(system, None, errors)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_HOST): _HOST_SELECTOR}), user_input
            ),
            errors=errors,
        )

    async def async_step_password(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The device answered 401: ask for its Web UI password."""
        errors: dict[str, str] = {}
        if user_input is not None:
            password = user_input[CONF_PASSWORD]
            system = await self._async_try(password, errors)
            if system is not None:
                return await self._async_create(system, password, errors)
        return self.async_show_form(
            step_id="password",
            data_schema=vol.Schema({vol.Required(CONF_PASSWORD): _PASSWORD_SELECTOR}),
            description_placeholders={"host": self._host},
            errors=errors,
        )

    async def _async_create(
        self, system: SystemInfo, password: str | None, errors: dict[str, str]
    ) -> ConfigFlowResult:
        if (device_id := self._device_id_of(system)) is None:
            return self.async_abort(reason="invalid_response")
        await self.async_set_unique_id(device_id, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        return self.async_create_entry(
            title=gateway_name(system.device.name, device_id),
            data=_entry_data(self._host, self._port, password),
        )

    # Discovery ----------------------------------------------------------------------------

    @override
    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A gateway announced itself: ``_http._tcp`` ``whatwatt*`` with TXT ``type=100``."""
        if discovery_info.properties.get("type") != ZEROCONF_TYPE_GATEWAY:
            return self.async_abort(reason="not_whatwatt_device")
        device_id = str(discovery_info.properties.get("id") or "").upper()
        if not _DEVICE_ID_RE.fullmatch(device_id):
            return self.async_abort(reason="no_device_id")
        self._host, self._port = discovery_info.host, discovery_info.port or DEFAULT_PORT
        self._device_id = device_id

        entry = await self.async_set_unique_id(device_id)
        updates: dict[str, Any] = {CONF_HOST: self._host}
        if self._port != DEFAULT_PORT or (entry is not None and CONF_PORT in entry.data):
            updates[CONF_PORT] = self._port
        self._abort_if_unique_id_configured(updates=updates)

        errors: dict[str, str] = {}
        system = await self._async_try(None, errors)
        if errors.get("base") == "password_required":
            self._needs_password = True
        elif system is None:
            return self.async_abort(reason=errors["base"])
        else:
            self._name = system.device.name
        self.context["title_placeholders"] = {"name": self._display_name}
        self.context["configuration_url"] = configuration_url(self._host, self._port)
        return await self.async_step_zeroconf_confirm()

    @property
    def _display_name(self) -> str:
        return gateway_name(self._name, self._device_id)

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what was found; one click adds it (plus the password if it has one)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if not self._needs_password:
                return self.async_create_entry(
                    title=self._display_name, data=_entry_data(self._host, self._port, None)
                )
            password = user_input[CONF_PASSWORD]
            if (system := await self._async_try(password, errors)) is not None:
                return self.async_create_entry(
                    title=gateway_name(system.device.name, self._device_id),
                    data=_entry_data(self._host, self._port, password),
                )
        if self._needs_password:
            schema = vol.Schema({vol.Required(CONF_PASSWORD): _PASSWORD_SELECTOR})
        else:
            schema = vol.Schema({})
            self._set_confirm_only()
        return self.async_show_form(
            step_id="zeroconf_confirm",
            data_schema=schema,
            description_placeholders={
                "name": self._display_name,
                "id": self._device_id,
                "host": self._host,
            },
            errors=errors,
        )

    # Reauth and reconfigure ---------------------------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The device rejected the stored password (or now wants one)."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the current Web UI password."""
        entry = self._get_reauth_entry()
        self._host = entry.data[CONF_HOST]
        self._port = entry.data.get(CONF_PORT, DEFAULT_PORT)
        errors: dict[str, str] = {}
        if user_input is not None:
            password = user_input[CONF_PASSWORD]
            if (system := await self._async_try(password, errors)) is not None:
                await self.async_set_unique_id(self._device_id_of(system))
                self._abort_if_unique_id_mismatch(reason="different_device")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_PASSWORD: password}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_PASSWORD): _PASSWORD_SELECTOR}),
            description_placeholders={"host": self._host},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the address or the password of a configured device."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            password = user_input.get(CONF_PASSWORD) or entry.data.get(CONF_PASSWORD)
            try:
                self._host, self._port = parse_host(user_input[CONF_HOST])
            except ValueError:
                errors[CONF_HOST] = "invalid_host"
            else:
                if (system := await self._async_try(password, errors)) is not None:
                    await self.async_set_unique_id(self._device_id_of(system))
                    self._abort_if_unique_id_mismatch(reason="different_device")
                    return self.async_update_reload_and_abort(
                        entry, data=_entry_data(self._host, self._port, password)
                    )
            if errors.get("base") == "password_required":
                errors = {CONF_PASSWORD: "password_required"}
        else:
            port = entry.data.get(CONF_PORT, DEFAULT_PORT)
            url = device_url(entry.data[CONF_HOST], port)
            # an IPv6 address alone is accepted as typed; with a port it needs its brackets
            user_input = {CONF_HOST: url.raw_authority if port != DEFAULT_PORT else url.host}
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(
                    {
                        vol.Required(CONF_HOST): _HOST_SELECTOR,
                        vol.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
                    }
                ),
                {CONF_HOST: user_input[CONF_HOST]},
            ),
            errors=errors,
        )
