"""The meter-settings schema accepts what the device accepts and rejects the rest, by field."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hypothesis import given, strategies as st
import pytest

from custom_components.whatwatt.client import meter_settings
from custom_components.whatwatt.client.exceptions import WhatwattValidationError
from custom_components.whatwatt.client.meter_settings import (
    CLEAR_KEY,
    DEFAULTS,
    READABLE_KEYS,
    SECRET_KEYS,
    SPECS,
    FieldType,
    MeterSettings,
    Section,
    SettingSpec,
    full_settings,
    validate,
)

# The example GET answer of the vendor page (the 16 readable fields, factory defaults).
VENDOR_EXAMPLE = json.loads(
    (
        Path(__file__).parents[1] / "whatwatt_emulator/reference/meter_settings_example.json"
    ).read_text()
)["example"]


def test_eighteen_fields_named_as_the_api() -> None:
    """All 18 fields, the two keys write-only, the 16 others readable with the page's defaults."""
    assert list(SPECS) == [
        "baudrate", "parity", "stop_bits", "buffer_size", "method", "encryption",
        "encryption_key", "authentication_key", "tx_invert", "rx_invert", "auto_baudrate",
        "if_type", "protocol", "if_mode", "conv_factor", "time_offset",
        "sync_time_offset_with_ntp", "scalers_set",
    ]  # fmt: skip
    assert SECRET_KEYS == ("encryption_key", "authentication_key")
    assert all(SPECS[key].write_only for key in SECRET_KEYS)
    assert set(READABLE_KEYS) == set(VENDOR_EXAMPLE)
    assert dict(DEFAULTS) == VENDOR_EXAMPLE
    assert {spec.section for spec in SPECS.values()} == set(Section)


def test_vendor_examples_are_valid() -> None:
    """Every body the vendor page shows passes unchanged."""
    assert validate(VENDOR_EXAMPLE) == {k: VENDOR_EXAMPLE[k] for k in READABLE_KEYS}
    for body in (
        {"if_type": "p1", "protocol": "dsmr"},
        {"auto_baudrate": False, "baudrate": 9600, "parity": "even", "stop_bits": "1"},
        {"encryption": True, "encryption_key": "0123456789ABCDEF0123456789ABCDEF"},
        {"time_offset": 3600, "sync_time_offset_with_ntp": True},
        {"scalers_set": "custom", "conv_factor": 1000},
    ):
        assert validate(body) == body


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"baudrate": 299}, "baudrate", "out_of_range"),
        ({"baudrate": 115201}, "baudrate", "out_of_range"),
        ({"baudrate": "9600"}, "baudrate", "invalid_type"),
        ({"baudrate": 9600.5}, "baudrate", "invalid_type"),
        ({"baudrate": True}, "baudrate", "invalid_type"),
        ({"parity": "mark"}, "parity", "invalid_option"),
        ({"parity": None}, "parity", "invalid_type"),
        ({"stop_bits": 1}, "stop_bits", "invalid_type"),
        ({"stop_bits": "3"}, "stop_bits", "invalid_option"),
        ({"buffer_size": 0}, "buffer_size", "out_of_range"),
        ({"buffer_size": 129}, "buffer_size", "out_of_range"),
        ({"method": "Active Pull"}, "method", "invalid_option"),
        ({"encryption": "true"}, "encryption", "invalid_type"),
        ({"encryption": 1}, "encryption", "invalid_type"),
        ({"encryption_key": "0123"}, "encryption_key", "invalid_key"),
        ({"encryption_key": "G" * 32}, "encryption_key", "invalid_key"),
        ({"authentication_key": "0" * 33}, "authentication_key", "invalid_key"),
        ({"authentication_key": 1234}, "authentication_key", "invalid_type"),
        ({"tx_invert": "no"}, "tx_invert", "invalid_type"),
        ({"rx_invert": 0}, "rx_invert", "invalid_type"),
        ({"auto_baudrate": None}, "auto_baudrate", "invalid_type"),
        ({"if_type": "usb"}, "if_type", "invalid_option"),
        ({"if_type": "P1"}, "if_type", "invalid_option"),
        ({"protocol": "dlms"}, "protocol", "invalid_option"),
        ({"if_mode": "poll"}, "if_mode", "invalid_option"),
        ({"conv_factor": 0.0009}, "conv_factor", "out_of_range"),
        ({"conv_factor": 1000.5}, "conv_factor", "out_of_range"),
        ({"conv_factor": float("nan")}, "conv_factor", "invalid_type"),
        ({"conv_factor": "1"}, "conv_factor", "invalid_type"),
        ({"time_offset": 2**31}, "time_offset", "out_of_range"),
        ({"time_offset": -(2**31) - 1}, "time_offset", "out_of_range"),
        ({"time_offset": 1.5}, "time_offset", "invalid_type"),
        ({"sync_time_offset_with_ntp": "yes"}, "sync_time_offset_with_ntp", "invalid_type"),
        ({"scalers_set": "lge360"}, "scalers_set", "invalid_option"),
        ({"baud_rate": 9600}, "baud_rate", "unknown_field"),
    ],
)
def test_each_rule_rejects_with_the_field_named(
    body: dict[str, Any], field: str, reason: str
) -> None:
    """One rule each: the error names the field and a reason code usable as a translation key."""
    with pytest.raises(WhatwattValidationError) as err:
        validate(body)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_error_never_echoes_a_key() -> None:
    """A nearly-right key must not end up in an exception message (and from it in a log)."""
    secret = "ABCDEF0123456789ABCDEF012345678"  # 31 characters
    with pytest.raises(WhatwattValidationError) as err:
        validate({"encryption_key": secret})
    assert secret not in str(err.value)
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__


def test_first_bad_field_in_api_order_is_reported() -> None:
    """With several bad fields the error is stable: the first one in the page's order."""
    with pytest.raises(WhatwattValidationError) as err:
        validate({"scalers_set": "x", "parity": "x", "baudrate": 1})
    assert err.value.field == "baudrate"
    assert "300..115200" in str(err.value)


def test_normalisation() -> None:
    """Integral floats become ints (selectors give 9600.0), keys upper-case, 1.0 is sent as 1."""
    assert validate({"baudrate": 9600.0, "conv_factor": 1.0, "encryption_key": "ab" * 16}) == {
        "baudrate": 9600,
        "encryption_key": "AB" * 16,
        "conv_factor": 1,
    }
    assert validate({"conv_factor": 0.001}) == {"conv_factor": 0.001}
    assert validate({"authentication_key": CLEAR_KEY}) == {"authentication_key": CLEAR_KEY}
    # a key as printed on the utility's letter, in groups: the spaces are not part of it
    grouped = " ".join(["0123", "4567", "89ab", "cdef"] * 2)
    assert validate({"encryption_key": f" {grouped}\t"}) == {
        "encryption_key": "0123456789ABCDEF" * 2
    }


def test_full_settings_fills_defaults_and_keeps_given_values() -> None:
    """A replace (POST) body is complete: missing readable fields take the factory default."""
    body = full_settings({"baudrate": 2400, "encryption_key": "1" * 32})
    assert body == {**VENDOR_EXAMPLE, "baudrate": 2400, "encryption_key": "1" * 32}
    with pytest.raises(WhatwattValidationError):
        full_settings({"parity": "bad"})


def test_model_tolerates_new_and_missing_fields() -> None:
    """Unknown fields from newer firmware are ignored, missing ones are None (not a default)."""
    settings = MeterSettings.from_dict({**VENDOR_EXAMPLE, "new_field": 1, "encryption_key": "x"})
    assert settings.as_dict() == VENDOR_EXAMPLE
    partial = MeterSettings.from_dict({"baudrate": 9600})
    assert partial.parity is None
    assert partial.as_dict() == {"baudrate": 9600}


def test_choices_have_translation_keys_and_map_back_to_the_device_spelling() -> None:
    """Home Assistant shows a choice by a valid translation key; the device gets its own value."""
    assert SPECS["stop_bits"].option_keys == ("1", "1_5", "2")
    assert SPECS["method"].option_keys == ("passive_push",)
    for spec in SPECS.values():
        if spec.type is not FieldType.ENUM:
            assert spec.option_keys == ()
            continue
        assert [spec.option_key(o) for o in spec.options] == list(spec.option_keys)
        for option, key in zip(spec.options, spec.option_keys, strict=True):
            assert spec.device_option(key) == option  # what the UI sends
            assert spec.device_option(option) == option  # what the vendor documents
    assert SPECS["if_type"].option_keys == SPECS["if_type"].options  # valid keys stay
    # Anything else is left for validate to reject (or, from the device, to show as it is).
    assert SPECS["stop_bits"].device_option("0_5") == "0_5"
    assert SPECS["stop_bits"].device_option(2) == 2
    assert SPECS["stop_bits"].option_key("0.5") == "0.5"
    assert SPECS["baudrate"].device_option(9600) == 9600


@pytest.mark.parametrize("options", [("1.5", "1_5"), ("A b", "a-b", "a_b"), ("",), ("__",)])
def test_choices_without_distinct_valid_keys_are_refused(options: tuple[str, ...]) -> None:
    """Two choices with one key, or a choice with no key at all, cannot be declared."""
    with pytest.raises(ValueError, match="x: options"):
        SettingSpec(
            key="x", type=FieldType.ENUM, section=Section.SERIAL, default="", options=options
        )


def test_model_treats_a_mistyped_value_as_not_reported(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value of another type than its field's (some firmware) is None, the rest intact; each
    such field is logged once at debug level, with the type received and never the value."""
    monkeypatch.setattr(meter_settings, "_mistyped_logged", set())
    mistyped = {"baudrate": "9600", "encryption": 1, "stop_bits": 2, "conv_factor": True}
    caplog.set_level(logging.DEBUG, logger=meter_settings.__name__)
    for _ in range(2):  # the second answer logs nothing new
        settings = MeterSettings.from_dict({**VENDOR_EXAMPLE, **mistyped})
        assert settings.as_dict() == {k: v for k, v in VENDOR_EXAMPLE.items() if k not in mistyped}
    assert [record.levelno for record in caplog.records] == [logging.DEBUG] * 4
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for key, type_name in [
        ("baudrate", "str"), ("stop_bits", "int"), ("encryption", "int"), ("conv_factor", "bool")
    ]:  # fmt: skip
        assert f"{key} reported as {type_name}," in logged
    assert "9600" not in logged


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("baudrate", 9600.0),
        ("time_offset", False),
        ("conv_factor", float("inf")),
        ("conv_factor", float("nan")),
        ("conv_factor", "1"),
        ("auto_baudrate", "true"),
        ("scalers_set", ["default"]),
    ],
)
def test_model_checks_each_kind(key: str, value: Any) -> None:
    """int is an int (not a bool, not 9600.0), a number is finite, a flag a bool, a choice a
    string (any string: a new firmware's choice is still shown)."""
    assert getattr(MeterSettings.from_dict({key: value}), key) is None
    assert MeterSettings.from_dict({"conv_factor": 0.5, "scalers_set": "new"}).as_dict() == {
        "conv_factor": 0.5,
        "scalers_set": "new",
    }
    assert MeterSettings.from_dict({"parity": None}).as_dict() == {}


def _valid_value(key: str) -> st.SearchStrategy[Any]:
    spec = SPECS[key]
    match spec.type:
        case FieldType.ENUM:
            return st.sampled_from(spec.options)
        case FieldType.BOOL:
            return st.booleans()
        case FieldType.KEY:
            return st.text("0123456789abcdefABCDEF", min_size=32, max_size=32)
        case FieldType.INT:
            return st.integers(int(spec.minimum or 0), int(spec.maximum or 0))
        case _:
            return st.floats(spec.minimum, spec.maximum, allow_nan=False)


@given(st.sets(st.sampled_from(list(SPECS))).flatmap(
    lambda keys: st.fixed_dictionaries({k: _valid_value(k) for k in keys})
))  # fmt: skip
def test_any_valid_subset_is_accepted(body: dict[str, Any]) -> None:
    """Hypothesis: every subset of valid values passes and keeps its keys."""
    assert set(validate(body)) == set(body)


_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


@given(st.sampled_from(list(SPECS)), _JUNK)
def test_junk_is_rejected_or_valid_never_crashes(key: str, value: Any) -> None:
    """Hypothesis: arbitrary values either validate or raise the field-specific error."""
    try:
        out = validate({key: value})
    except WhatwattValidationError as err:
        assert err.field == key  # noqa: PT017 - either outcome is legal, only the shape is checked
    else:
        assert set(out) == {key}


def test_only_numeric_settings_have_bounds() -> None:
    """Every numeric setting has both documented bounds; asking another for them is a bug."""
    for spec in SPECS.values():
        if spec.type in (FieldType.INT, FieldType.FLOAT):
            low, high = spec.bounds
            assert low < high, spec.key
        else:
            with pytest.raises(TypeError):
                spec.bounds  # noqa: B018
