"""/api/v1/settings (general settings) and /api/v1/meter/scalers/* on the emulator."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from whatwatt_emulator import Emulator

SETTINGS = "/api/v1/settings"
CUSTOM = "/api/v1/meter/scalers/custom"
CURRENT = "/api/v1/meter/scalers/current"

# The vendor's example GET (settings.md) with the device defaults of settings.md's tables.
FACTORY = {
    "system": {
        "name": "",
        "host_name": "whatwatt_9F8124",
        "protection": False,
        "power_save": False,
        "p1_wifi_boost": True,
        "use_dhcp_ntp_server": False,
        "custom_ntp_server": "",
        "use_custom_ntp_server": False,
    },
    "services": {
        "cloud": {"what_watt": True, "solar_manager": False, "mystrom": True, "stromkonto": False},
        "local": {"solar_manager": False},
        "broadcast": True,
        "other_energy_provider": False,
        "report_interval": 30,
        "low_power_report": False,
        "log": False,
        "meter_proxy": False,
        "sd": {"enable": False, "frequency": 15, "recorder_mode": False},
        "modbus": {"enable": False, "port": 502},
        "berry": {"auto_run": False, "run_delay": 300},
    },
}


async def _call(emu: Emulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emu.url + path, json=body) as resp,
    ):
        return resp.status, await resp.json()


async def test_factory_settings(emulator: Emulator) -> None:
    """GET shows the documented defaults and never the password."""
    assert await _call(emulator, "GET", SETTINGS) == (200, FACTORY)


async def test_put_deep_merges(emulator: Emulator) -> None:
    """PUT changes only the nested fields given (the vendor's SD example)."""
    status, body = await _call(
        emulator, "PUT", SETTINGS, {"services": {"sd": {"enable": True, "frequency": 60}}}
    )
    assert status == 200
    expected = {**FACTORY, "services": {**FACTORY["services"]}}
    expected["services"]["sd"] = {"enable": True, "frequency": 60, "recorder_mode": False}
    assert body == expected


async def test_post_resets_unspecified_fields_to_zero_empty_false(emulator: Emulator) -> None:
    """POST is a full replace: what it does not give becomes 0, "" or false."""
    status, body = await _call(emulator, "POST", SETTINGS, {"system": {"name": "Cellar"}})
    assert status == 200
    assert body["system"]["name"] == "Cellar"
    assert body["system"]["host_name"] == ""
    assert body["system"]["p1_wifi_boost"] is False
    assert body["services"]["cloud"]["what_watt"] is False
    assert body["services"]["log"] is False
    # 0 is outside these fields' own ranges: they fall back to the factory value instead
    assert body["services"]["report_interval"] == 30
    assert body["services"]["modbus"] == {"enable": False, "port": 502}
    assert body["services"]["berry"] == {"auto_run": False, "run_delay": 300}
    assert body["services"]["sd"] == {"enable": False, "frequency": 15, "recorder_mode": False}


async def test_password_is_write_only(emulator: Emulator) -> None:
    """A password can be set but is never shown."""
    status, body = await _call(emulator, "PUT", SETTINGS, {"system": {"password": "pw123"}})
    assert status == 200
    assert "password" not in body["system"]
    assert "pw123" not in str(body)
    assert emulator.settings["system"]["password"] == "pw123"
    assert emulator.password is None  # protection is still off


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        ({"system": {"name": "x" * 32}}, "system.name", "too_long"),
        ({"system": {"name": 5}}, "system.name", "invalid_type"),
        ({"system": {"host_name": "bad host"}}, "system.host_name", "invalid_host_name"),
        ({"system": {"host_name": "-bad"}}, "system.host_name", "invalid_host_name"),
        ({"system": {"protection": "yes"}}, "system.protection", "invalid_type"),
        ({"system": {"power_save": True}}, "system.power_save", "ethernet_link_up"),
        ({"system": {"custom_ntp_server": "bad..server"}}, "system.custom_ntp_server",
         "invalid_ntp_server"),
        ({"services": {"report_interval": 0}}, "services.report_interval", "out_of_range"),
        ({"services": {"report_interval": 3601}}, "services.report_interval", "out_of_range"),
        ({"services": {"report_interval": 1.5}}, "services.report_interval", "invalid_type"),
        ({"services": {"sd": {"frequency": 1441}}}, "services.sd.frequency", "out_of_range"),
        ({"services": {"modbus": {"port": 0}}}, "services.modbus.port", "out_of_range"),
        ({"services": {"berry": {"run_delay": 59}}}, "services.berry.run_delay", "out_of_range"),
        ({"services": {"sd": True}}, "services.sd", "invalid_type"),
        ({"services": {"colour": 1}}, "services.colour", "unknown_field"),
        ({"wifi": {}}, "wifi", "unknown_field"),
    ],
)  # fmt: skip
async def test_invalid_settings_give_400_and_change_nothing(
    emulator: Emulator, body: dict[str, Any], field: str, error: str
) -> None:
    """Bad host names, out-of-range numbers, power_save with Ethernet up: 400, nothing applied."""
    status, answer = await _call(
        emulator, "PUT", SETTINGS, {**body, "services": {**body.get("services", {}), "log": True}}
    )
    assert status == 400
    assert answer["details"]["errors"][field] == error
    assert emulator.settings["services"]["log"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"system": {"custom_ntp_server": "pool.ntp.org", "use_custom_ntp_server": True}},
        {"system": {"custom_ntp_server": "192.168.1.1"}},
        {"system": {"custom_ntp_server": "", "use_custom_ntp_server": False}},
        {"system": {"host_name": "whatwatt-9F8124"}},
        {"services": {"report_interval": 3600, "sd": {"frequency": 1}}},
    ],
)
async def test_valid_settings_are_accepted(emulator: Emulator, body: dict[str, Any]) -> None:
    """Documented values pass."""
    assert (await _call(emulator, "PUT", SETTINGS, body))[0] == 200


async def test_power_save_is_allowed_without_ethernet(emulator_factory: Any) -> None:
    """With the Ethernet link down, power_save can be turned on."""
    emu: Emulator = await emulator_factory(ethernet_up=False)
    status, body = await _call(emu, "PUT", SETTINGS, {"system": {"power_save": True}})
    assert (status, body["system"]["power_save"]) == (200, True)


async def test_settings_body_must_be_an_object(emulator: Emulator) -> None:
    """A JSON array is not a settings object."""
    status, body = await _call(emulator, "PUT", SETTINGS, [1])
    assert (status, body["error"]) == (400, "invalid_body")


async def test_custom_scalers_start_empty_and_post_replaces(emulator_factory: Any) -> None:
    """GET is [] on a new device; POST sets the list (the vendor's example) and GET shows it."""
    emu: Emulator = await emulator_factory(meter="dlms")
    assert await _call(emu, "GET", CUSTOM) == (200, [])
    example = [{"obis": "1.7.0", "scaler": -2}, {"obis": "1.8.255", "scaler": 3}]
    assert await _call(emu, "POST", CUSTOM, example) == (200, example)
    assert await _call(emu, "GET", CUSTOM) == (200, example)
    assert await _call(emu, "POST", CUSTOM, [{"obis": "2.7.0", "scaler": -1}]) == (
        200,
        [{"obis": "2.7.0", "scaler": -1}],
    )


STORED = [{"obis": "1.7.0", "scaler": -1}, {"obis": "2.7.0", "scaler": -1}]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        # the body is an array
        ({"obis": "1.8.0", "scaler": 3}, "invalid_body"),
        ("1.8.0", "invalid_body"),
        # each entry is an object with exactly obis and scaler
        ([1], "invalid_entry"),
        ([[{"obis": "1.8.0", "scaler": 3}]], "invalid_entry"),
        ([{"obis": "1.8.0"}], "invalid_entry"),
        ([{"scaler": 3}], "invalid_entry"),
        ([{"obis": "1.8.0", "scaler": 1, "x": 1}], "invalid_entry"),
        ([{"OBIS": "1.8.0", "scaler": 1}], "invalid_entry"),
        # obis is the text C.D.E of decimal numbers
        ([{"obis": "1.8", "scaler": 3}], "invalid_obis"),
        ([{"obis": "1.8.0.0", "scaler": 3}], "invalid_obis"),
        ([{"obis": "1-0:1.8.0", "scaler": 3}], "invalid_obis"),
        ([{"obis": "1.8.x", "scaler": 3}], "invalid_obis"),
        ([{"obis": "1.8.-1", "scaler": 3}], "invalid_obis"),
        ([{"obis": " 1.8.0", "scaler": 3}], "invalid_obis"),
        ([{"obis": "1.8.0\n", "scaler": 3}], "invalid_obis"),
        ([{"obis": "", "scaler": 3}], "invalid_obis"),
        ([{"obis": "\u0661.8.0", "scaler": 3}], "invalid_obis"),  # an Arabic-Indic digit one
        ([{"obis": 180, "scaler": 3}], "invalid_obis"),
        ([{"obis": None, "scaler": 3}], "invalid_obis"),
        # C and D are 0..254, E is 0..255
        ([{"obis": "255.8.0", "scaler": 3}], "invalid_obis"),
        ([{"obis": "1.255.0", "scaler": 3}], "invalid_obis"),
        ([{"obis": "1.8.256", "scaler": 3}], "invalid_obis"),
        ([{"obis": "1000.8.0", "scaler": 3}], "invalid_obis"),
        # the scaler is an integer from -6 to 6
        ([{"obis": "1.8.0", "scaler": 7}], "out_of_range"),
        ([{"obis": "1.8.0", "scaler": -7}], "out_of_range"),
        ([{"obis": "1.8.0", "scaler": 1e300}], "out_of_range"),
        ([{"obis": "1.8.0", "scaler": 1.5}], "invalid_type"),
        ([{"obis": "1.8.0", "scaler": True}], "invalid_type"),
        ([{"obis": "1.8.0", "scaler": "3"}], "invalid_type"),
        ([{"obis": "1.8.0", "scaler": None}], "invalid_type"),
        # no OBIS code twice (also when written differently), at most 64 entries
        ([{"obis": "1.8.0", "scaler": 1}, {"obis": "1.8.0", "scaler": 2}], "duplicate_obis"),
        ([{"obis": "1.8.0", "scaler": 1}, {"obis": "1.08.00", "scaler": 1}], "duplicate_obis"),
        ([{"obis": f"1.8.{e}", "scaler": 0} for e in range(65)], "too_many"),
        # one bad entry spoils the whole list
        ([{"obis": "3.8.0", "scaler": 0}, {"obis": "1.8.0", "scaler": 9}], "out_of_range"),
    ],
)
async def test_invalid_custom_scalers_are_rejected(
    emulator_factory: Any, body: Any, error: str
) -> None:
    """C.D.E within 0..254.0..254.0..255 and scaler -6..6, else 400 and the stored list and
    the values stay as they were."""
    emu: Emulator = await emulator_factory(meter="dlms")
    await _call(emu, "POST", CUSTOM, STORED)
    await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": "custom"})
    factors = dict(emu.views.factors)
    status, answer = await _call(emu, "POST", CUSTOM, body)
    assert (status, answer["error"]) == (400, error)
    assert set(answer) == {"error", "message", "details"}
    assert emu.custom_scalers == STORED
    assert await _call(emu, "GET", CUSTOM) == (200, STORED)
    assert emu.views.factors == factors


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"[{", "invalid_json"),
        (b"", "invalid_json"),
        (b"null", "invalid_body"),
        (b"NaN", "invalid_body"),
        (b'[{"obis": "1.8.0", "scaler": NaN}]', "invalid_type"),
    ],
)
async def test_custom_scalers_body_that_is_not_json_is_rejected(
    emulator: Emulator, raw: bytes, error: str
) -> None:
    """Broken JSON, no body, null, a bare number, a NaN scaler: 400, the list stays."""
    await _call(emulator, "POST", CUSTOM, STORED)
    async with (
        aiohttp.ClientSession() as session,
        session.post(emulator.url + CUSTOM, data=raw) as resp,
    ):
        assert resp.status == 400
        assert (await resp.json())["error"] == error
    assert emulator.custom_scalers == STORED


async def test_custom_scaler_boundaries(emulator: Emulator) -> None:
    """254.254.255 and -6 / 6 are valid; an integral float scaler is taken as an integer."""
    body = [{"obis": "254.254.255", "scaler": -6}, {"obis": "0.0.0", "scaler": 6.0}]
    status, answer = await _call(emulator, "POST", CUSTOM, body)
    assert status == 200
    assert answer[1] == {"obis": "0.0.0", "scaler": 6}


async def test_current_scalers_are_dlms_only(emulator_factory: Any) -> None:
    """A DSMR meter has no scalers ([]); the L+G meter shows the vendor example's values."""
    dsmr: Emulator = await emulator_factory()
    assert await _call(dsmr, "GET", CURRENT) == (200, [])
    dlms: Emulator = await emulator_factory(meter="dlms")
    status, body = await _call(dlms, "GET", CURRENT)
    scalers = {item["obis"]: item["scaler"] for item in body}
    assert status == 200
    assert scalers["1.8.0"] == 0
    assert scalers["1.7.0"] == 0
    assert scalers["31.7.0"] == -2
    dlms.set_meter_status("NOT CONNECTED")
    assert await _call(dlms, "GET", CURRENT) == (200, [])


async def test_scalers_in_use_change_the_report(emulator_factory: Any) -> None:
    """lge570 on this meter multiplies energy by 1000; custom scalers override, 255 = any E."""
    emu: Emulator = await emulator_factory(meter="dlms", licence="PLUS", report_interval=60)
    _, base = await _call(emu, "GET", "/api/v1/report")
    energy = base["report"]["energy"]["active"]["positive"]["total"]
    voltage = base["report"]["voltage"]["l1"]
    await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": "lge570"})
    _, current = await _call(emu, "GET", CURRENT)
    assert {i["obis"]: i["scaler"] for i in current}["1.8.0"] == 3
    _, lge = await _call(emu, "GET", "/api/v1/report")
    assert lge["report"]["energy"]["active"]["positive"]["total"] == pytest.approx(
        energy * 1000, rel=1e-4
    )
    await _call(
        emu, "POST", CUSTOM, [{"obis": "1.8.255", "scaler": -3}, {"obis": "32.7.0", "scaler": 1}]
    )
    await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": "custom"})
    _, custom = await _call(emu, "GET", "/api/v1/report")
    assert custom["report"]["energy"]["active"]["positive"]["total"] == pytest.approx(
        energy / 1000, abs=0.001
    )
    assert custom["report"]["voltage"]["l1"] == pytest.approx(voltage * 10, abs=0.1)
    assert custom["report"]["current"] == base["report"]["current"]  # no override: native


def _values(report: dict[str, Any]) -> tuple[float, float, float]:
    """Voltage L1 (32.7.0), energy import (1.8.0) and current L1 (31.7.0) of a report."""
    body = report["report"]
    return (
        body["voltage"]["l1"],
        body["energy"]["active"]["positive"]["total"],
        body["current"]["l1"],
    )


async def test_custom_scalers_apply_only_while_scalers_set_is_custom(
    emulator_factory: Any,
) -> None:
    """The stored list acts on the report, the live events and scalers/current only under
    ``scalers_set: custom``; switching away keeps the list (GET still shows it) but stops
    applying it, and switching back applies it again."""
    emu: Emulator = await emulator_factory(meter="dlms", licence="PLUS", report_interval=3600)
    custom = [{"obis": "32.7.255", "scaler": 1}, {"obis": "1.8.0", "scaler": -3}]
    _, base = await _call(emu, "GET", "/api/v1/report")  # one reading, kept for an hour
    _, base_current = await _call(emu, "GET", CURRENT)

    assert await _call(emu, "POST", CUSTOM, custom) == (200, custom)  # stored, not in use
    _, report = await _call(emu, "GET", "/api/v1/report")
    assert report["report"] == base["report"]
    assert await _call(emu, "GET", CURRENT) == (200, base_current)
    event = await emu.push_report()  # a new reading
    assert event is not None
    assert 200 < event["V_P1"] < 260
    _, before = await _call(emu, "GET", "/api/v1/report")

    await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": "custom"})
    _, report = await _call(emu, "GET", "/api/v1/report")  # the same reading, scaled
    volts, energy, amps = _values(report)
    assert volts == pytest.approx(_values(before)[0] * 10, abs=0.1)  # 32.7.255 covers 32.7.0
    assert energy == pytest.approx(_values(before)[1] / 1000, abs=0.001)
    assert amps == _values(before)[2]  # no entry for 31.7.0: the meter's own scaler
    _, current = await _call(emu, "GET", CURRENT)
    applied = {item["obis"]: item["scaler"] for item in current}
    assert (applied["32.7.0"], applied["1.8.0"], applied["31.7.0"]) == (1, -3, -2)
    assert applied["52.7.0"] == 0  # 32.7.255 is not 52.7.x
    event = await emu.push_report()
    assert event is not None
    assert 2000 < event["V_P1"] < 2600
    assert 200 < event["V_P2"] < 260

    for scalers_set in ("default", "lge570"):
        await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": scalers_set})
        assert await _call(emu, "GET", CUSTOM) == (200, custom)  # the device keeps the list
        event = await emu.push_report()
        assert event is not None
        assert 200 < event["V_P1"] < 260  # neither default nor lge570 scales voltage
        _, current = await _call(emu, "GET", CURRENT)
        assert {item["obis"]: item["scaler"] for item in current}["32.7.0"] == 0
    _, current = await _call(emu, "GET", CURRENT)
    assert current != base_current  # lge570 is its own table
    await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": "default"})
    assert await _call(emu, "GET", CURRENT) == (200, base_current)

    await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": "custom"})
    event = await emu.push_report()
    assert event is not None
    assert 2000 < event["V_P1"] < 2600


async def test_custom_scalers_posted_while_in_use_apply_at_once(emulator_factory: Any) -> None:
    """A new list under ``scalers_set: custom`` acts on the next values; [] is the meter's own."""
    emu: Emulator = await emulator_factory(meter="dlms", licence="PLUS", report_interval=3600)
    await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": "custom"})
    _, base = await _call(emu, "GET", "/api/v1/report")
    await _call(emu, "POST", CUSTOM, [{"obis": "31.7.0", "scaler": -1}])
    _, report = await _call(emu, "GET", "/api/v1/report")
    assert _values(report)[2] == pytest.approx(_values(base)[2] * 10, rel=0.01, abs=0.02)
    await _call(emu, "POST", CUSTOM, [])
    _, report = await _call(emu, "GET", "/api/v1/report")
    assert report["report"] == base["report"]


async def test_custom_scalers_do_not_touch_a_dsmr_meter(emulator_factory: Any) -> None:
    """DLMS only: a DSMR meter stores the list but its values and scalers/current stay."""
    emu: Emulator = await emulator_factory(licence="PLUS", report_interval=3600)
    _, base = await _call(emu, "GET", "/api/v1/report")
    await _call(emu, "POST", CUSTOM, [{"obis": "32.7.0", "scaler": 3}])
    await _call(emu, "PUT", "/api/v1/meter/settings", {"scalers_set": "custom"})
    _, report = await _call(emu, "GET", "/api/v1/report")
    assert report["report"] == base["report"]
    assert await _call(emu, "GET", CURRENT) == (200, [])
    assert await _call(emu, "GET", CUSTOM) == (200, [{"obis": "32.7.0", "scaler": 3}])


async def test_broadcast_setting_is_stored(emulator: Emulator) -> None:
    """services.broadcast can be turned off (without mDNS there is nothing to withdraw)."""
    status, body = await _call(emulator, "PUT", SETTINGS, {"services": {"broadcast": False}})
    assert (status, body["services"]["broadcast"]) == (200, False)
