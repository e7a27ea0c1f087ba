"""The emulator (device firmware) and the integration agree on the 18 meter settings.

Both are independent implementations of the vendor page; this test catches drift between the
emulator's table (whatwatt_emulator/meter_schema.py) and the integration's
(custom_components/whatwatt/client/meter_settings.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.whatwatt.client.exceptions import WhatwattValidationError
from custom_components.whatwatt.client.meter_settings import (
    DEFAULTS,
    READABLE_KEYS,
    SECRET_KEYS,
    SPECS,
    FieldType,
    validate,
)
from custom_components.whatwatt.link import LinkRisk, link_risk
from whatwatt_emulator import meter_schema
from whatwatt_emulator.meter_schema import FIELDS, SettingsError

KINDS = {
    "uint": FieldType.INT,
    "int": FieldType.INT,
    "real": FieldType.FLOAT,
    "bool": FieldType.BOOL,
    "enum": FieldType.ENUM,
    "key": FieldType.KEY,
}


def test_same_eighteen_field_names_in_the_same_order() -> None:
    """Names (as the API spells them) and their order match."""
    assert list(FIELDS) == list(SPECS)
    assert len(FIELDS) == 18


def test_same_readable_and_secret_fields() -> None:
    """Both hide exactly the two DLMS keys."""
    assert meter_schema.SECRET_FIELDS == SECRET_KEYS
    assert set(meter_schema.READABLE_FIELDS) == set(READABLE_KEYS)


@pytest.mark.parametrize("name", list(SPECS))
def test_what_the_device_detects_again_is_what_the_integration_checks(name: str) -> None:
    """The emulated gateway detects the meter again after a change of exactly the settings
    whose change the integration checks the link after (``link_risk``, any value)."""
    checked = any(
        link_risk(name, value) is not LinkRisk.NONE for value in (SPECS[name].default, object())
    )
    assert checked == (name in meter_schema.LINK_FIELDS)


@pytest.mark.parametrize("name", list(SPECS))
def test_same_kind_default_range_and_options(name: str) -> None:
    """Each field has the same wire kind, factory default, range and allowed options."""
    device, client = FIELDS[name], SPECS[name]
    assert KINDS[device.kind] is client.type
    assert device.options == client.options
    assert device.minimum == client.minimum
    assert device.maximum == client.maximum
    if not device.write_only:
        assert device.default == DEFAULTS[name]
        assert type(device.default) is type(DEFAULTS[name])


def _device_accepts(name: str, value: Any) -> bool:
    try:
        meter_schema.validate({name: value})
    except SettingsError:
        return False
    return True


def _client_accepts(name: str, value: Any) -> bool:
    try:
        validate({name: value})
    except WhatwattValidationError:
        return False
    return True


PROBES: list[Any] = [
    None, True, False, 0, 1, -1, 0.5, 1.5, 300, 299, 115200, 115201, 128, 129, 0.001, 0.0009,
    1000, 1000.5, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, "1", "1.5", "2", "3", "none",
    "odd", "even", "auto", "p1", "mbus", "hdlc", "push", "pull", "default", "custom", "lge570",
    "Passive Push", "0" * 32, "A" * 32, "a" * 32, "G" * 32, "A" * 31, 9600.0, float("inf"),
]  # fmt: skip


@pytest.mark.parametrize("name", list(SPECS))
def test_device_and_client_accept_the_same_values(name: str) -> None:
    """What the client lets through, the device accepts, and the other way round."""
    for value in PROBES:
        assert _device_accepts(name, value) == _client_accepts(name, value), (name, value)
