"""The emulator's /api/v1/meter/settings behaves as the vendor page meter-comm.md says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from whatwatt_emulator import Emulator, meter_schema

PATH = "/api/v1/meter/settings"
KEY = "0123456789ABCDEF0123456789ABCDEF"

# The example GET answer of the vendor page (the 16 readable fields, factory defaults).
VENDOR_GET = json.loads(
    (
        Path(__file__).parents[1] / "whatwatt_emulator/reference/meter_settings_example.json"
    ).read_text()
)["example"]


async def _call(
    emu: Emulator, method: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emu.url + PATH, json=body, data=raw) as resp,
    ):
        return resp.status, await resp.json(), resp


async def test_factory_get_equals_the_vendor_example(emulator: Emulator) -> None:
    """GET on a new device answers exactly the page's example: 16 fields, no keys."""
    status, body, resp = await _call(emulator, "GET")
    assert status == 200
    assert body == VENDOR_GET
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"


async def test_put_changes_only_the_given_fields(emulator: Emulator) -> None:
    """The page's PUT example changes if_type and protocol and nothing else."""
    status, body, _ = await _call(emulator, "PUT", {"if_type": "p1", "protocol": "dsmr"})
    assert status == 200
    assert body == {**VENDOR_GET, "if_type": "p1", "protocol": "dsmr"}
    _, again, _ = await _call(emulator, "GET")
    assert again == body


async def test_post_resets_missing_fields_to_defaults(emulator: Emulator) -> None:
    """POST replaces: what it does not name goes back to the factory default."""
    await _call(emulator, "PUT", {"baudrate": 9600, "parity": "even", "conv_factor": 2.5})
    status, body, _ = await _call(emulator, "POST", {"parity": "odd"})
    assert status == 200
    assert body == {**VENDOR_GET, "parity": "odd"}


async def test_post_with_the_full_vendor_example_is_accepted(emulator: Emulator) -> None:
    """The page's own POST example (all 16 fields) is a valid full replace."""
    await _call(emulator, "PUT", {"time_offset": 3600, "sync_time_offset_with_ntp": True})
    status, body, _ = await _call(emulator, "POST", VENDOR_GET)
    assert (status, body) == (200, VENDOR_GET)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("baudrate", 299, "out_of_range"),
        ("baudrate", 115201, "out_of_range"),
        ("baudrate", "9600", "invalid_type"),
        ("baudrate", 9600.5, "invalid_type"),
        ("baudrate", True, "invalid_type"),
        ("parity", "mark", "invalid_option"),
        ("stop_bits", 1, "invalid_type"),
        ("stop_bits", "3", "invalid_option"),
        ("buffer_size", 0, "out_of_range"),
        ("buffer_size", 129, "out_of_range"),
        ("method", "Active Pull", "invalid_option"),
        ("encryption", "true", "invalid_type"),
        ("encryption_key", "0123", "invalid_key"),
        ("encryption_key", "G" * 32, "invalid_key"),
        ("authentication_key", 12, "invalid_type"),
        ("tx_invert", 1, "invalid_type"),
        ("rx_invert", None, "invalid_type"),
        ("auto_baudrate", "yes", "invalid_type"),
        ("if_type", "P1", "invalid_option"),
        ("protocol", "dlms", "invalid_option"),
        ("if_mode", "poll", "invalid_option"),
        ("conv_factor", 0.0009, "out_of_range"),
        ("conv_factor", 1000.5, "out_of_range"),
        ("conv_factor", "1", "invalid_type"),
        ("time_offset", 2**31, "out_of_range"),
        ("time_offset", -(2**31) - 1, "out_of_range"),
        ("time_offset", 1.5, "invalid_type"),
        ("sync_time_offset_with_ntp", 0, "invalid_type"),
        ("scalers_set", "lge450", "invalid_option"),
        ("colour", "blue", "unknown_field"),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_invalid_value_is_rejected_with_400_and_changes_nothing(
    emulator: Emulator, method: str, field: str, value: Any, error: str
) -> None:
    """A bad type, range, option or unknown field gives 400 {error,message,details}."""
    before = emulator.meter_settings
    status, body, _ = await _call(emulator, method, {"parity": "even", field: value})
    assert status == 400
    assert body["error"] == error
    assert body["details"]["field"] == field
    assert field in body["message"]
    assert emulator.meter_settings == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("baudrate", 300),
        ("baudrate", 115200),
        ("baudrate", 9600.0),
        ("buffer_size", 1),
        ("buffer_size", 128),
        ("conv_factor", 0.001),
        ("conv_factor", 1000),
        ("time_offset", -(2**31)),
        ("time_offset", 2**31 - 1),
        ("stop_bits", "1.5"),
        ("if_type", "ttl_push"),
        ("protocol", "mbtr"),
    ],
)
async def test_boundary_values_are_accepted(emulator: Emulator, field: str, value: Any) -> None:
    """The ends of each documented range are valid."""
    status, body, _ = await _call(emulator, "PUT", {field: value})
    assert status == 200
    assert body[field] == value


async def test_one_bad_field_in_a_body_changes_no_field(emulator: Emulator) -> None:
    """All-or-nothing: the good fields of a rejected body are not applied either."""
    status, body, _ = await _call(
        emulator,
        "PUT",
        {"baudrate": 9600, "parity": "odd", "encryption_key": KEY, "buffer_size": 500},
    )
    assert status == 400
    assert body["details"]["errors"] == {"buffer_size": "out_of_range"}
    assert emulator.meter_settings["baudrate"] == 115200
    assert emulator.meter_settings["encryption_key"] == ""


async def test_error_body_never_echoes_a_key(emulator: Emulator) -> None:
    """A rejected key value is not repeated in the error (it may be a secret)."""
    secret = "ABCDEF0123456789ABCDEF012345678"  # 31 characters
    status, body, _ = await _call(emulator, "PUT", {"encryption_key": secret})
    assert status == 400
    assert secret not in str(body)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'])
async def test_a_body_that_is_not_a_json_object_is_rejected(emulator: Emulator, raw: bytes) -> None:
    """Broken JSON or a non-object gives 400 and changes nothing."""
    status, body, _ = await _call(emulator, "PUT", raw=raw)
    assert status == 400
    assert body["error"] in {"invalid_json", "invalid_body"}


async def test_keys_are_write_only_and_32_zeros_clear_them(emulator: Emulator) -> None:
    """Keys are stored (upper case), never returned, and cleared by 32 zeros."""
    status, body, _ = await _call(
        emulator, "PUT", {"encryption": True, "encryption_key": KEY.lower()}
    )
    assert status == 200
    assert "encryption_key" not in body
    assert "authentication_key" not in body
    assert emulator.meter_settings["encryption_key"] == KEY
    _, got, _ = await _call(emulator, "GET")
    assert "encryption_key" not in got
    assert KEY not in str(got)
    await _call(emulator, "PUT", {"encryption_key": "0" * 32, "authentication_key": KEY})
    assert emulator.meter_settings["encryption_key"] == ""
    assert emulator.meter_settings["authentication_key"] == KEY


async def test_post_without_keys_clears_them(emulator: Emulator) -> None:
    """A full replace resets the keys too (their default is empty)."""
    await _call(emulator, "PUT", {"encryption_key": KEY})
    await _call(emulator, "POST", {"encryption": True})
    assert emulator.meter_settings["encryption_key"] == ""


async def test_integral_conv_factor_is_written_as_integer(emulator: Emulator) -> None:
    """The device shows 1000, not 1000.0 (DIGEST C4); fractions stay fractions."""
    _, body, _ = await _call(emulator, "PUT", {"conv_factor": 1000.0})
    assert body["conv_factor"] == 1000
    assert isinstance(body["conv_factor"], int)
    _, body, _ = await _call(emulator, "PUT", {"conv_factor": 0.25})
    assert body["conv_factor"] == 0.25


async def test_settings_survive_a_reboot(emulator_factory: Any) -> None:
    """Settings live in the device's flash: a reboot keeps them."""
    emu: Emulator = await emulator_factory(reboot_downtime=0.05)
    await _call(emu, "PUT", {"baudrate": 2400, "encryption_key": KEY})
    boot_id = emu.boot_id
    await emu.reboot(wait=True)
    assert emu.boot_id != boot_id
    status, body, _ = await _call(emu, "GET")
    assert status == 200
    assert body["baudrate"] == 2400
    assert emu.meter_settings["encryption_key"] == KEY


async def test_empty_put_changes_nothing(emulator: Emulator) -> None:
    """PUT {} is valid and leaves everything as it was."""
    status, body, _ = await _call(emulator, "PUT", {})
    assert (status, body) == (200, VENDOR_GET)


def test_link_fields_are_all_but_time_and_scaling() -> None:
    """What makes the gateway detect the meter again: every field but conv_factor,
    time_offset and sync_time_offset_with_ntp (the two sets cover the 18 fields once)."""
    assert set(meter_schema.TIME_AND_SCALING_FIELDS) == {
        "conv_factor", "time_offset", "sync_time_offset_with_ntp"
    }  # fmt: skip
    assert set(meter_schema.LINK_FIELDS) | set(meter_schema.TIME_AND_SCALING_FIELDS) == set(
        meter_schema.FIELDS
    )
    assert len(meter_schema.LINK_FIELDS) == 15
    for name in ("baudrate", "parity", "stop_bits", "buffer_size", "method", "encryption",
                 "encryption_key", "authentication_key", "tx_invert", "rx_invert",
                 "auto_baudrate", "if_type", "protocol", "if_mode", "scalers_set"):  # fmt: skip
        assert name in meter_schema.LINK_FIELDS
    before = meter_schema.defaults()
    assert not meter_schema.link_changed(before, {**before, "conv_factor": 5})
    assert meter_schema.link_changed(before, {**before, "buffer_size": 5})
