"""Config flows against the emulator: discovery, manual entry, password, reauth, reconfigure."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt.client import SystemInfo
from custom_components.whatwatt.config_flow import WhatwattConfigFlow, parse_host
from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.options_flow import WhatwattOptionsFlow
from tests.integration_common import make_entry
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

DEVICE_ID = "A842E39F8124"


@pytest.fixture(autouse=True)
def no_setup() -> Iterator[AsyncMock]:
    """Create entries without setting them up (setup has its own tests)."""
    with patch("custom_components.whatwatt.async_setup_entry", return_value=True) as mock:
        yield mock


def _zeroconf(
    emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 80, **txt: str
) -> ZeroconfServiceInfo:
    """The announcement of a whatwatt Go (``_http._tcp``, TXT id and type=100)."""
    if emulator is not None:
        host, port = emulator.host, emulator.port
    properties = {"id": DEVICE_ID, "type": "100", **txt}
    return ZeroconfServiceInfo(
        ip_address=ip_address(host),
        ip_addresses=[ip_address(host)],
        hostname="whatwatt-9F8124.local.",
        name="whatwatt Go 9F8124 WebUI._http._tcp.local.",
        port=port,
        type="_http._tcp.local.",
        properties=properties,
    )


async def _user(hass: HomeAssistant, host: str) -> dict:  # type: ignore[type-arg]
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_HOST: host})


# --- manual entry ---------------------------------------------------------------------------


async def test_user_adds_device_by_address_with_port(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """host:port is split; the id is the unique id; the title names the device."""
    result = await _user(hass, f"127.0.0.1:{emulator.port}")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "whatwatt Go 9F8124"
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_PORT: emulator.port}
    assert result["result"].unique_id == DEVICE_ID
    assert emulator.requests("GET", "/api/v1/system")


async def test_user_title_is_the_name_set_on_the_device(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """A name given in the device's Web UI becomes the entry title."""
    emulator.settings["system"]["name"] = "Basement meter"
    result = await _user(hass, f"http://127.0.0.1:{emulator.port}/")
    assert result["title"] == "Basement meter"


async def test_user_bad_address_is_refused_before_anything_is_sent(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """An address that cannot be a device gets a field error; the flow recovers."""
    result = await _user(hass, "ftp://127.0.0.1/x")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_HOST: "invalid_host"}
    assert not emulator.log
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f"127.0.0.1:{emulator.port}"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_cannot_connect_then_recovers(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """Nothing answers: cannot_connect; once the device is up the same flow succeeds."""
    emulator = await emulator_factory()
    port = emulator.port
    await emulator.stop()
    result = await _user(hass, f"127.0.0.1:{port}")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    await emulator.start(port=port)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f"127.0.0.1:{port}"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_something_else_answers(hass: HomeAssistant, emulator: Emulator) -> None:
    """An HTTP error or garbage instead of the system information: device_rejected."""
    emulator.faults.fail_next(status=500)
    result = await _user(hass, f"127.0.0.1:{emulator.port}")
    assert result["errors"] == {"base": "device_rejected"}
    emulator.faults.malformed_json_next()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f"127.0.0.1:{emulator.port}"}
    )
    assert result["errors"] == {"base": "device_rejected"}


async def test_user_device_without_id_is_not_added(hass: HomeAssistant) -> None:
    """A system answer without a valid device id cannot become an entry."""
    with patch(
        "custom_components.whatwatt.config_flow.async_read_system",
        return_value=SystemInfo.from_dict({"device": {"id": "not-hex"}}),
    ):
        result = await _user(hass, "127.0.0.1")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_response"


async def test_user_unexpected_error(hass: HomeAssistant, emulator: Emulator) -> None:
    """A bug shows "unknown_error" (logged), and the user can retry."""
    with patch(
        "custom_components.whatwatt.config_flow.async_read_system", side_effect=RuntimeError
    ):
        result = await _user(hass, f"127.0.0.1:{emulator.port}")
    assert result["errors"] == {"base": "unknown_error"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f"127.0.0.1:{emulator.port}"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_password_asked_only_on_401(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """A protected device: password step; a wrong one is an error; the right one is stored."""
    emulator = await emulator_factory(password="s3cret")
    result = await _user(hass, f"127.0.0.1:{emulator.port}")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "password"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "wrong"}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "s3cret"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: emulator.port,
        CONF_PASSWORD: "s3cret",
    }


async def test_user_already_configured(hass: HomeAssistant, emulator: Emulator) -> None:
    """The same device twice is refused, whatever address it was entered with."""
    MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data={CONF_HOST: "x"}).add_to_hass(hass)
    result = await _user(hass, f"127.0.0.1:{emulator.port}")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# --- discovery ------------------------------------------------------------------------------


async def test_zeroconf_one_click(hass: HomeAssistant, emulator: Emulator) -> None:
    """A discovered device without password: confirm only, shows name and id."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(emulator)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"] == {
        "name": "whatwatt Go 9F8124",
        "id": DEVICE_ID,
        "host": "127.0.0.1",
    }
    assert result["data_schema"] is not None
    assert not result["data_schema"].schema
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert flow["context"]["title_placeholders"] == {"name": "whatwatt Go 9F8124"}
    assert flow["context"]["confirm_only"] is True
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "whatwatt Go 9F8124"
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_PORT: emulator.port}
    assert result["result"].unique_id == DEVICE_ID


async def test_zeroconf_protected_device_asks_password(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """The discovered device answers 401: the confirm step asks its password."""
    emulator = await emulator_factory(password="pw")
    emulator.settings["system"]["name"] = "Garage"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(emulator)
    )
    assert result["step_id"] == "zeroconf_confirm"
    assert CONF_PASSWORD in result["data_schema"].schema
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "nope"}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "pw"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Garage"
    assert result["data"][CONF_PASSWORD] == "pw"


async def test_zeroconf_known_device_with_new_address_updates_entry(hass: HomeAssistant) -> None:
    """A configured device seen at a new IP/port: the entry follows, no new flow."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data={CONF_HOST: "192.0.2.7"})
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(host="127.0.0.1", port=8080),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data == {CONF_HOST: "127.0.0.1", CONF_PORT: 8080}
    # Back on port 80: the stored port follows too.
    await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(host="127.0.0.2")
    )
    assert entry.data == {CONF_HOST: "127.0.0.2", CONF_PORT: 80}


@pytest.mark.parametrize(
    ("txt", "reason"),
    [
        ({"type": "200"}, "not_whatwatt_device"),
        ({"id": ""}, "no_device_id"),
        ({"id": "A842E39F81"}, "no_device_id"),
    ],
)
async def test_zeroconf_not_a_gateway(
    hass: HomeAssistant, txt: dict[str, str], reason: str
) -> None:
    """Other _http._tcp devices named whatwatt*, or a broken announcement, are ignored."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(**txt)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_zeroconf_lower_case_id_is_normalised(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """The unique id is always upper-case hex, as /api/v1/system reports it."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(emulator, id=DEVICE_ID.lower())
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["result"].unique_id == DEVICE_ID


async def test_zeroconf_unreachable(hass: HomeAssistant, emulator_factory: EmulatorFactory) -> None:
    """Announced but not answering (e.g. a stale mDNS cache): nothing to offer."""
    emulator = await emulator_factory()
    info = _zeroconf(emulator)
    await emulator.stop()
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


# --- reauth and reconfigure -----------------------------------------------------------------


async def test_reauth_stores_new_password(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """The password changed on the device: reauth asks for it, checks it and reloads."""
    emulator = await emulator_factory(password="new")
    entry = make_entry(emulator, password="old")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "still-old"}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "new"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_PASSWORD] == "new"


async def test_reauth_refuses_another_device(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """A different gateway now answers at the address: its password is not stored."""
    emulator = await emulator_factory(device_id="0123456789AB", password="pw")
    entry = make_entry(emulator, password="old")
    entry = MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data=dict(entry.data))
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "pw"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "different_device"
    assert entry.data[CONF_PASSWORD] == "old"


async def test_reconfigure_changes_address_and_keeps_password(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """New address, password field left empty: the stored password is kept and checked."""
    emulator = await emulator_factory(password="pw")
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=DEVICE_ID, data={CONF_HOST: "192.0.2.1", CONF_PASSWORD: "pw"}
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "not a host"}
    )
    assert result["errors"] == {CONF_HOST: "invalid_host"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f"127.0.0.1:{emulator.port}"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {CONF_HOST: "127.0.0.1", CONF_PORT: emulator.port, CONF_PASSWORD: "pw"}


async def test_reconfigure_password(hass: HomeAssistant, emulator_factory: EmulatorFactory) -> None:
    """A protected device without a stored password needs one; a wrong one is refused."""
    emulator = await emulator_factory(password="pw")
    entry = make_entry(emulator)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    host = f"127.0.0.1:{emulator.port}"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_HOST: host})
    assert result["errors"] == {CONF_PASSWORD: "password_required"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: host, CONF_PASSWORD: "bad"}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: host, CONF_PASSWORD: "pw"}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PASSWORD] == "pw"


async def test_reconfigure_shows_current_address(hass: HomeAssistant) -> None:
    """The form starts with the stored address, port and IPv6 brackets included."""
    for data, shown in (
        ({CONF_HOST: "192.0.2.1"}, "192.0.2.1"),
        ({CONF_HOST: "192.0.2.1", CONF_PORT: 8080}, "192.0.2.1:8080"),
        ({CONF_HOST: "fe80::1", CONF_PORT: 8080}, "[fe80::1]:8080"),
    ):
        entry = MockConfigEntry(domain=DOMAIN, unique_id=shown, data=data)
        entry.add_to_hass(hass)
        result = await entry.start_reconfigure_flow(hass)
        key = next(k for k in result["data_schema"].schema if k == CONF_HOST)
        assert key.description == {"suggested_value": shown}
        hass.config_entries.flow.async_abort(result["flow_id"])


async def test_reconfigure_refuses_another_device(hass: HomeAssistant, emulator: Emulator) -> None:
    """The new address belongs to a different gateway: nothing changes."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id="0123456789AB", data={CONF_HOST: "x"})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f"127.0.0.1:{emulator.port}"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "different_device"
    assert entry.data == {CONF_HOST: "x"}


# --- pieces ---------------------------------------------------------------------------------


def test_options_flow_is_the_meter_settings_flow() -> None:
    """Configure opens the meter-settings options flow."""
    entry = MockConfigEntry(domain=DOMAIN)
    assert isinstance(WhatwattConfigFlow.async_get_options_flow(entry), WhatwattOptionsFlow)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("192.168.1.5", ("192.168.1.5", 80)),
        (" 192.168.1.5:8080 ", ("192.168.1.5", 8080)),
        ("whatwatt-9F8124.local", ("whatwatt-9f8124.local", 80)),
        ("http://192.168.1.5/", ("192.168.1.5", 80)),
        ("http://192.168.1.5:81", ("192.168.1.5", 81)),
        ("fe80::1", ("fe80::1", 80)),
        ("[fe80::1]:8080", ("fe80::1", 8080)),
    ],
)
def test_parse_host_accepts(typed: str, expected: tuple[str, int]) -> None:
    """Host names, IPv4, IPv6, with or without port or http:// are understood."""
    assert parse_host(typed) == expected


@pytest.mark.parametrize(
    "typed",
    ["", "https://192.168.1.5", "192.168.1.5/api", "user@192.168.1.5", "a b", "host:99999",
     "192.168.1.5?x=1", "192.168.1.5#top"],
)  # fmt: skip
def test_parse_host_refuses(typed: str) -> None:
    """Anything that is not a plain http address of a device is refused."""
    with pytest.raises(ValueError, match="not an address"):
        parse_host(typed)


async def test_port_80_is_not_stored(hass: HomeAssistant) -> None:
    """The usual device on port 80: the entry holds only the host (manual and discovered)."""
    system = SystemInfo.from_dict({"device": {"id": DEVICE_ID}})
    with patch("custom_components.whatwatt.config_flow.async_read_system", return_value=system):
        result = await _user(hass, "whatwatt-9F8124.local")
        assert result["data"] == {CONF_HOST: "whatwatt-9f8124.local"}
        await hass.config_entries.async_remove(result["result"].entry_id)
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(host="192.0.2.9")
        )
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["data"] == {CONF_HOST: "192.0.2.9"}
