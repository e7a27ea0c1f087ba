"""The options flow reads the meter settings from the device and changes them there.

All tests run against the emulator: what the device received comes from its request log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import dataclasses
from datetime import timedelta
import json
import logging
from pathlib import Path
import re
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import probatio
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from custom_components.whatwatt.client.meter_settings import (
    CLEAR_KEY,
    DEFAULTS,
    SECRET_KEYS,
    SPECS,
    FieldType,
    Section,
)
from custom_components.whatwatt.link import LinkRisk, link_risk
from whatwatt_emulator import Emulator

from .integration_common import make_entry
from .settings_common import KEY, async_after_link_check, loaded, meter_writes, without_reported

CLEAR = "clear_"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "custom_components/whatwatt/translations"
LANGUAGES = sorted(path.stem for path in TRANSLATIONS.glob("*.json"))


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, emulator: Emulator) -> AsyncIterator[MockConfigEntry]:
    """The integration set up against the emulator (the flow needs no entity platform)."""
    async with loaded(hass, emulator, []) as entry:
        yield entry


def suggested(result: FlowResult) -> dict[str, Any]:
    """Return the edit form's suggested values, flat by field."""
    values: dict[str, Any] = {}
    for part in result["data_schema"].schema.values():
        for marker in part.schema.schema:
            if marker.description and "suggested_value" in marker.description:
                values[str(marker)] = marker.description["suggested_value"]
    return values


def form_fields(result: FlowResult) -> dict[str, list[str]]:
    """Return the fields of each section of the edit form."""
    return {
        str(key): [str(marker) for marker in part.schema.schema]
        for key, part in result["data_schema"].schema.items()
    }


def nest(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Nest flat field values by section, as the frontend submits them."""
    nested: dict[str, dict[str, Any]] = {part.value: {} for part in Section}
    for key, value in values.items():
        nested[SPECS[key.removeprefix(CLEAR)].section.value][key] = value
    return nested


async def open_edit(hass: HomeAssistant, entry: MockConfigEntry) -> FlowResult:
    """Open the options and choose "Edit settings"."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        "edit",
        "troubleshoot",
        "scalers",
        "submeters",
        "demand",
        "prices",
        "restore",
    ]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "edit"}
    )


async def submit(hass: HomeAssistant, form: FlowResult, **changes: Any) -> FlowResult:
    """Submit the form as the frontend does: every shown value, with ``changes`` applied."""
    values = {**suggested(form), **{f"{CLEAR}{key}": False for key in SECRET_KEYS}, **changes}
    return await hass.config_entries.options.async_configure(form["flow_id"], nest(values))


# --- opening ---------------------------------------------------------------------------------


async def test_options_flow_opens_on_the_device_settings_not_a_stale_copy(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Settings changed on the device after the last poll show up in the form."""
    emulator.store_meter_settings({**emulator.meter_settings, "baudrate": 9600, "parity": "even"})
    assert loaded_entry.runtime_data.meter_settings.data.baudrate == 115200  # stale copy

    form = await open_edit(hass, loaded_entry)

    assert form["type"] is FlowResultType.FORM
    assert form["step_id"] == "edit"
    assert suggested(form) == {
        **DEFAULTS, "method": "passive_push", "baudrate": 9600, "parity": "even"
    }  # fmt: skip
    assert [(r.method, r.path) for r in emulator.log] == [("GET", "/api/v1/meter/settings")]


async def test_options_flow_groups_fields_in_sections_from_specs(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """One section per Section; each holds its settings, and each key has a clear toggle."""
    form = await open_edit(hass, loaded_entry)
    expected: dict[str, list[str]] = {part.value: [] for part in Section}
    for key, spec in SPECS.items():
        expected[spec.section.value] += [key, CLEAR + key] if spec.write_only else [key]
    assert form_fields(form) == expected


async def test_options_flow_selectors_show_the_documented_choices_and_ranges(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """What the frontend receives: dropdowns, number boxes with ranges, toggles, passwords."""
    form = await open_edit(hass, loaded_entry)
    shown = probatio.to_field_list(form["data_schema"], custom_serializer=cv.custom_serializer)
    selectors = {
        field["name"]: field["selector"]
        for part in shown
        for field in part["schema"]
        if not field["name"].startswith(CLEAR)
    }
    assert all(part["type"] == "expandable" for part in shown)
    for key, spec in SPECS.items():
        selector = selectors[key]
        if spec.type is FieldType.ENUM:
            assert selector["select"]["options"] == list(spec.option_keys)
            assert selector["select"]["translation_key"] == key
        elif spec.type is FieldType.BOOL:
            assert "boolean" in selector
        elif spec.type is FieldType.KEY:
            assert selector["text"]["type"] == "password"
        else:
            assert selector["number"]["min"] == spec.minimum
            assert selector["number"]["max"] == spec.maximum
            assert selector["number"]["mode"] == "box"


async def test_options_flow_shows_only_settings_the_device_reports(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An older firmware without a field: the form does not offer it (the keys stay)."""
    without_reported(monkeypatch, "scalers_set")
    form = await open_edit(hass, loaded_entry)
    fields = form_fields(form)
    assert "scalers_set" not in fields["time_scaling"]
    assert set(SECRET_KEYS) <= set(fields["security"])


async def test_options_flow_aborts_when_the_device_cannot_be_read(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """No form on stale data: a device that refuses to answer aborts, saying what it said."""
    emulator.faults.fail_next(status=503)
    result = await open_edit(hass, loaded_entry)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "device_rejected"
    assert "answered 503" in result["description_placeholders"]["error"]


async def test_options_flow_aborts_and_reauthenticates_on_a_new_password(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The device password was changed: abort, and a re-authentication flow starts."""
    emulator.set_password("changed")
    result = await open_edit(hass, loaded_entry)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_auth"
    flows = hass.config_entries.flow.async_progress_by_handler("whatwatt")
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_options_flow_aborts_while_the_entry_is_not_loaded(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """Without a loaded entry there is no device connection to read or write."""
    entry = make_entry(emulator)
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"
    assert emulator.log == []


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    leaves: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            leaves.update(_leaves(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


@pytest.mark.parametrize("language", LANGUAGES)
def test_options_flow_is_translated(language: str) -> None:
    """Every section and field (label and help), every choice of every dropdown, and every
    step, error and abort text exists in each language, with the English placeholders."""
    english = json.loads((TRANSLATIONS / "en.json").read_text("utf-8"))
    texts = json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))
    sections = texts["options"]["step"]["edit"]["sections"]
    for key, spec in SPECS.items():
        part = sections[spec.section.value]
        assert part["name"]
        for field in (key, CLEAR + key) if spec.write_only else (key,):
            assert part["data"][field]
            assert part["data_description"][field]
        if spec.type is FieldType.ENUM:
            assert set(texts["selector"][key]["options"]) == set(spec.option_keys)
    ours = _leaves(texts["options"])
    reference = _leaves(english["options"])
    assert set(ours) == set(reference)
    for path, text in reference.items():
        assert ours[path], path
        assert _placeholders(ours[path]) == _placeholders(text), path


# --- submitting ------------------------------------------------------------------------------


async def test_options_flow_offers_choices_as_keys_and_sends_the_device_spelling(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The device's "1.5" is shown as 1_5; submitted unchanged nothing is sent; chosen again
    after another value, the device gets "1.5"."""
    emulator.profile = dataclasses.replace(emulator.profile, stop_bits="1.5")  # such a meter
    emulator.store_meter_settings({**emulator.meter_settings, "stop_bits": "1.5"})
    form = await open_edit(hass, loaded_entry)
    assert suggested(form)["stop_bits"] == "1_5"
    assert suggested(form)["method"] == "passive_push"
    emulator.log.clear()
    result = await submit(hass, form)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(emulator) == []

    emulator.store_meter_settings({**emulator.meter_settings, "stop_bits": "2"})
    form = await open_edit(hass, loaded_entry)
    confirm = await submit(hass, form, stop_bits="1_5")
    assert confirm["step_id"] == "confirm"  # away from the default "1": can cut the link
    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    result = await async_after_link_check(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(emulator) == [("PUT", {"stop_bits": "1.5"})]
    assert loaded_entry.runtime_data.meter_settings.data.stop_bits == "1.5"


async def test_options_flow_sends_only_changed_fields(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """One PUT with exactly the changed fields; the entities' data is the read-back."""
    runtime = loaded_entry.runtime_data
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()

    result = await submit(hass, form, time_offset=3600, conv_factor=2.5)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(emulator) == [("PUT", {"time_offset": 3600, "conv_factor": 2.5})]
    assert emulator.meter_settings["time_offset"] == 3600
    assert runtime.meter_settings.data.time_offset == 3600
    # The device is the store: the entry keeps no settings and was not reloaded.
    assert loaded_entry.options == {}
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert loaded_entry.runtime_data is runtime


async def test_options_flow_sends_nothing_for_an_unchanged_form(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Submitting the form as shown sends no request at all and changes nothing."""
    runtime = loaded_entry.runtime_data
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()

    result = await submit(hass, form)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert emulator.log == []
    assert loaded_entry.runtime_data is runtime


async def test_options_flow_empty_number_box_leaves_the_setting_unchanged(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A field the user emptied is not sent (the frontend leaves it out)."""
    form = await open_edit(hass, loaded_entry)
    values = suggested(form)
    del values["time_offset"]
    values["conv_factor"] = 3
    emulator.log.clear()
    result = await hass.config_entries.options.async_configure(form["flow_id"], nest(values))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(emulator) == [("PUT", {"conv_factor": 3})]


async def test_options_flow_confirms_changes_that_can_cut_the_meter_link(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Fixing the interface type and turning detection off: listed, sent only once confirmed."""
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()

    confirm = await submit(hass, form, if_type="p1", auto_baudrate=False, time_offset=60)

    assert confirm["type"] is FlowResultType.FORM
    assert confirm["step_id"] == "confirm"
    assert confirm["description_placeholders"] == {
        "changes": "- Detect serial settings automatically\n- Interface type"
    }
    assert emulator.log == []

    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    assert meter_writes(emulator) == [
        ("PUT", {"auto_baudrate": False, "if_type": "p1", "time_offset": 60})
    ]
    result = await async_after_link_check(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_options_flow_going_back_to_automatic_needs_no_confirmation(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Returning a link setting to its factory default: sent at once, then checked.

    The gateway detects the meter again, which cannot leave it worse than a fixed interface
    does: no confirmation, but the link is checked like after any other link change.
    """
    emulator.store_meter_settings({**emulator.meter_settings, "if_type": "p1"})
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()
    result = await submit(hass, form, if_type="auto")
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert meter_writes(emulator) == [("PUT", {"if_type": "auto"})]
    result = await async_after_link_check(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY


# --- validation ------------------------------------------------------------------------------

INVALID = [
    pytest.param("baudrate", 299, "out_of_range", id="int-below-range"),
    pytest.param("buffer_size", 129, "out_of_range", id="int-above-range"),
    pytest.param("time_offset", 2**31, "out_of_range", id="int32-overflow"),
    pytest.param("baudrate", 9600.5, "invalid_type", id="int-fraction"),
    pytest.param("buffer_size", "64", "invalid_type", id="int-as-text"),
    pytest.param("conv_factor", 0.0005, "out_of_range", id="float-below-range"),
    pytest.param("conv_factor", 1000.5, "out_of_range", id="float-above-range"),
    pytest.param("conv_factor", "1", "invalid_type", id="float-as-text"),
    pytest.param("parity", "mark", "invalid_option", id="enum-unknown-option"),
    pytest.param("stop_bits", 1, "invalid_type", id="enum-not-text"),
    pytest.param("auto_baudrate", "yes", "invalid_type", id="bool-as-text"),
    pytest.param("encryption_key", "0123", "invalid_key", id="key-too-short"),
    pytest.param("encryption_key", "G" * 32, "invalid_key", id="key-not-hex"),
    pytest.param("authentication_key", 12345, "invalid_type", id="key-not-text"),
]


@pytest.mark.parametrize(("field", "value", "reason"), INVALID)
async def test_options_flow_rejects_an_invalid_value_on_its_field_and_sends_nothing(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    field: str,
    value: Any,
    reason: str,
) -> None:
    """Each rule of the schema: an error on the field's section naming the field, no request,
    and the form keeps what the user typed (except a key)."""
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()

    result = await submit(hass, form, **{field: value, "if_mode": "push"})

    spec = SPECS[field]
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "edit"
    assert result["errors"] == {spec.section.value: reason}
    placeholders = result["description_placeholders"]
    assert placeholders["allowed"] == spec.allowed
    assert placeholders["field"] not in ("", field)  # the translated label
    assert emulator.log == []
    kept = suggested(result)
    assert kept["if_mode"] == "push"
    if not spec.write_only:
        assert kept[field] == value


async def test_options_flow_refuses_a_new_key_and_clearing_it_at_once(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Typing a key and ticking "clear" contradict each other: ask, send nothing."""
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()
    result = await submit(hass, form, encryption_key=KEY, clear_encryption_key=True)
    assert result["errors"] == {"security": "key_conflict"}
    assert emulator.log == []


FIELD_VALUES = st.sampled_from(sorted(set(SPECS)))
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=2),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(field=FIELD_VALUES, value=ANY_VALUE)
async def test_options_flow_any_generated_input_is_sent_valid_or_refused_unsent(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    field: str,
    value: Any,
) -> None:
    """Whatever lands in a field: either it is valid and is what the device gets, or the form
    shows an error on that field's section and the device gets nothing."""
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()
    before = dict(emulator.meter_settings)

    result = await submit(hass, form, **{field: value})
    if result["type"] is FlowResultType.FORM and result["step_id"] == "confirm":
        result = await hass.config_entries.options.async_configure(result["flow_id"], {})

    if result["type"] is FlowResultType.FORM:
        assert list(result["errors"]) == [SPECS[field].section.value]
        assert emulator.log == []
        assert emulator.meter_settings == before
    else:
        _end_at_the_link_check(hass, result, field)
        writes = meter_writes(emulator)
        assert len(writes) <= 1
        for _, body in writes:
            assert list(body) == [field]
    # Put the device back for the next example.
    emulator.store_meter_settings(before)


def _end_at_the_link_check(hass: HomeAssistant, result: FlowResult, field: str) -> None:
    """The write is done: a change of a link field goes on to the link check (not waited
    for here, the test is about what was sent), any other change ends the flow."""
    if result["type"] is FlowResultType.SHOW_PROGRESS:
        assert result["progress_action"] == "check_link"
        assert link_risk(field, None) is not LinkRisk.NONE
        hass.config_entries.options.async_abort(result["flow_id"])
    else:
        assert result["type"] is FlowResultType.CREATE_ENTRY


def valid_value(key: str) -> st.SearchStrategy[Any]:
    """Values the device accepts for a setting, drawn from its spec."""
    spec = SPECS[key]
    if spec.type is FieldType.ENUM:
        return st.sampled_from(spec.options)
    if spec.type is FieldType.BOOL:
        return st.booleans()
    if spec.type is FieldType.KEY:
        return st.text("0123456789abcdefABCDEF", min_size=32, max_size=32)
    if spec.type is FieldType.INT:
        return st.integers(int(spec.minimum or 0), int(spec.maximum or 0))
    return st.floats(spec.minimum, spec.maximum)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), field=FIELD_VALUES)
async def test_options_flow_any_valid_value_reaches_the_device_as_typed(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    data: st.DataObject,
    field: str,
) -> None:
    """A valid value that differs from the device's is sent alone and stored by the device."""
    value = data.draw(valid_value(field))
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()
    before = dict(emulator.meter_settings)

    result = await submit(hass, form, **{field: value})
    if result["type"] is FlowResultType.FORM:
        assert result["step_id"] == "confirm"
        result = await hass.config_entries.options.async_configure(result["flow_id"], {})

    _end_at_the_link_check(hass, result, field)
    expected = value.upper() if SPECS[field].type is FieldType.KEY else value
    if before.get(field) == expected:
        assert meter_writes(emulator) == []
    else:
        assert meter_writes(emulator) == [("PUT", {field: expected})]
        assert emulator.meter_settings[field] == ("" if expected == CLEAR_KEY else expected)
    emulator.store_meter_settings(before)


# --- device answers --------------------------------------------------------------------------


async def test_options_flow_device_rejection_keeps_the_form_on_the_field(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A 400 for a one-field change: an error on that field, the input kept, then a retry."""
    form = await open_edit(hass, loaded_entry)
    emulator.faults.fail_next(status=400)

    result = await submit(hass, form, time_offset=120)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"time_scaling": "field_rejected"}
    assert result["description_placeholders"]["field"] == "Time offset"
    assert suggested(result)["time_offset"] == 120
    assert emulator.meter_settings["time_offset"] == 0

    result = await submit(hass, result, time_offset=120)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert emulator.meter_settings["time_offset"] == 120


async def test_options_flow_device_rejection_of_several_fields_is_a_form_error(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A 400 that names no field, for a change of two: a general error, input kept."""
    form = await open_edit(hass, loaded_entry)
    emulator.faults.fail_next(status=400)
    result = await submit(hass, form, time_offset=120, conv_factor=2)
    assert result["errors"] == {"base": "device_rejected"}
    assert result["description_placeholders"]["error"]
    assert suggested(result)["conv_factor"] == 2


async def test_options_flow_device_naming_the_rejected_field_points_at_it(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The device's error body names the field it refused: the error goes there."""
    from whatwatt_emulator import meter_schema  # noqa: PLC0415

    check = meter_schema.validate

    def picky(body: Any) -> dict[str, Any]:
        if body.get("conv_factor") == 7:
            raise meter_schema.SettingsError(
                "out_of_range", "Invalid value for 'conv_factor'", {"field": "conv_factor"}
            )
        return check(body)

    monkeypatch.setattr(meter_schema, "validate", picky)
    form = await open_edit(hass, loaded_entry)
    result = await submit(hass, form, time_offset=5, conv_factor=7)
    assert result["errors"] == {"time_scaling": "field_rejected"}
    assert result["description_placeholders"]["field"] == "Conversion factor"
    assert "conv_factor" in result["description_placeholders"]["error"]


async def test_options_flow_connection_error_keeps_the_form_for_a_retry(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The connection drops: nothing is reported as saved; submitting again works."""
    form = await open_edit(hass, loaded_entry)
    emulator.faults.reset_next(count=2)  # aiohttp retries a reused connection once

    result = await submit(hass, form, conv_factor=4)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert suggested(result)["conv_factor"] == 4
    result = await submit(hass, result, conv_factor=4)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert emulator.meter_settings["conv_factor"] == 4


async def test_options_flow_other_device_error_keeps_the_form(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A 500 is not a rejection of one value: an error for the whole change, input kept."""
    form = await open_edit(hass, loaded_entry)
    emulator.faults.fail_next(status=500)
    result = await submit(hass, form, conv_factor=4)
    assert result["errors"] == {"base": "device_rejected"}
    assert "answered 500" in result["description_placeholders"]["error"]


async def test_options_flow_password_change_during_edit_starts_reauthentication(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The device password changed while the form was open: an error, and reauth starts."""
    form = await open_edit(hass, loaded_entry)
    emulator.set_password("changed")
    result = await submit(hass, form, conv_factor=4)
    await hass.async_block_till_done()
    assert result["errors"] == {"base": "invalid_auth"}
    flows = hass.config_entries.flow.async_progress_by_handler("whatwatt")
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_options_flow_reports_a_change_the_device_did_not_apply(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The device answers 200 but keeps the old value: not reported as saved."""
    store = emulator.store_meter_settings

    def ignore_conv_factor(values: dict[str, Any]) -> None:
        store({**values, "conv_factor": emulator.meter_settings["conv_factor"]})

    monkeypatch.setattr(emulator, "store_meter_settings", ignore_conv_factor)
    form = await open_edit(hass, loaded_entry)

    result = await submit(hass, form, conv_factor=9, time_offset=30)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"time_scaling": "field_not_applied"}
    assert result["description_placeholders"]["field"] == "Conversion factor"
    # The rest took effect and the form now compares against the device's real state.
    assert loaded_entry.runtime_data.meter_settings.data.time_offset == 30
    emulator.log.clear()
    monkeypatch.setattr(emulator, "store_meter_settings", store)
    result = await submit(hass, result, conv_factor=9, time_offset=30)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(emulator) == [("PUT", {"conv_factor": 9})]


# --- keys ------------------------------------------------------------------------------------


async def test_options_flow_key_goes_to_the_device_and_nowhere_else(
    hass: HomeAssistant,
    hass_client: Any,
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A key typed in groups and lower case reaches the device normalised, and is found in
    no log line, no stored file, no entry data/options and no diagnostics."""
    caplog.set_level(logging.DEBUG)
    typed = " ".join(KEY.lower()[i : i + 4] for i in range(0, 32, 4))
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()

    confirm = await submit(hass, form, encryption_key=typed, encryption=True)
    assert confirm["step_id"] == "confirm"
    assert confirm["description_placeholders"] == {"changes": "- DLMS encryption\n- Encryption key"}
    assert KEY not in json.dumps(confirm, default=str)
    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    result = await async_after_link_check(hass, result)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(emulator) == [("PUT", {"encryption": True, "encryption_key": KEY})]
    assert emulator.meter_settings["encryption_key"] == KEY

    # Make Home Assistant write everything it keeps (entries, registries) to .storage.
    hass.config_entries.async_update_entry(loaded_entry, title="Meter gateway")
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5))
    await hass.async_block_till_done()
    assert "core.config_entries" in hass_storage
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    for where in (
        caplog.text,
        json.dumps(hass_storage, default=str),
        json.dumps(dict(loaded_entry.data)),
        json.dumps(dict(loaded_entry.options)),
        json.dumps(diagnostics, default=str),
        json.dumps(result, default=str),
    ):
        assert KEY not in where
        assert KEY.lower() not in where


async def test_options_flow_never_puts_a_key_back_into_the_form(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """An error elsewhere re-shows the form without the typed key (it must be typed again)."""
    form = await open_edit(hass, loaded_entry)
    result = await submit(hass, form, encryption_key=KEY, baudrate=1)
    assert result["errors"] == {"serial": "out_of_range"}
    assert "encryption_key" not in suggested(result)
    assert KEY not in json.dumps(result, default=str)


async def test_options_flow_clear_toggle_sends_32_zeros(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Clearing the authentication key sends the documented 32 zeros; the device forgets it."""
    emulator.store_meter_settings({**emulator.meter_settings, "authentication_key": KEY})
    form = await open_edit(hass, loaded_entry)
    emulator.log.clear()
    confirm = await submit(hass, form, clear_authentication_key=True)
    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    result = await async_after_link_check(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(emulator) == [("PUT", {"authentication_key": CLEAR_KEY})]
    assert emulator.meter_settings["authentication_key"] == ""


# --- factory defaults ------------------------------------------------------------------------


async def test_options_flow_restores_factory_defaults_after_confirmation(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """ "Restore factory defaults": a confirmation, then one POST of the documented defaults."""
    emulator.store_meter_settings(
        {**emulator.meter_settings, "baudrate": 9600, "if_type": "p1", "encryption_key": KEY}
    )
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    confirm = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "restore"}
    )
    assert confirm["type"] is FlowResultType.FORM
    assert confirm["step_id"] == "restore"
    assert emulator.log == []

    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    result = await async_after_link_check(hass, result)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(emulator) == [("POST", dict(DEFAULTS))]
    assert {k: emulator.meter_settings[k] for k in DEFAULTS} == dict(DEFAULTS)
    assert emulator.meter_settings["encryption_key"] == ""
    assert loaded_entry.runtime_data.meter_settings.data.as_dict() == dict(DEFAULTS)
    assert loaded_entry.options == {}


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param({"fail_next": 503}, "device_rejected", id="device-error"),
        pytest.param({"fail_next": 400}, "device_rejected", id="rejected"),
        pytest.param({"reset_next": 1}, "cannot_connect", id="connection-lost"),
    ],
)
async def test_options_flow_failed_restore_is_not_reported_as_done(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    fault: dict[str, int],
    error: str,
) -> None:
    """A restore the device did not confirm shows an error and can be retried."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    confirm = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "restore"}
    )
    if "fail_next" in fault:
        emulator.faults.fail_next(status=fault["fail_next"])
    else:
        emulator.faults.reset_next(count=1)  # a POST is not retried
    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    result = await async_after_link_check(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_options_flow_restore_not_applied_is_an_error(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The device answers the POST but keeps a value: the restore is not reported as done."""
    store = emulator.store_meter_settings
    monkeypatch.setattr(
        emulator, "store_meter_settings", lambda values: store({**values, "if_mode": "pull"})
    )
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    confirm = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "restore"}
    )
    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    assert result["errors"] == {"base": "setting_not_applied"}
    assert result["description_placeholders"]["field"] == "Interface mode"


async def test_options_flow_restore_with_a_new_password_starts_reauthentication(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A rejected password on restore: an error, and reauthentication."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    confirm = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "restore"}
    )
    emulator.set_password("changed")
    result = await hass.config_entries.options.async_configure(confirm["flow_id"], {})
    assert result["errors"] == {"base": "invalid_auth"}


async def test_the_demand_step_stores_the_choice_and_refuses_odd_values(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Options → Demand windows: the form opens on the defaults (15 min, 1 peak, no floor);
    odd values are refused on their field with nothing stored; a good choice is stored in
    the options (the floor in W) and the demand sensors follow it after the reload; nothing
    goes to the device."""
    manager = hass.config_entries.options
    result = await manager.async_init(loaded_entry.entry_id)
    form = await manager.async_configure(result["flow_id"], {"next_step_id": "demand"})
    assert form["step_id"] == "demand"
    assert {str(key): key.description["suggested_value"] for key in form["data_schema"].schema} == {
        "window": "15",
        "peaks": 1,
        "floor": 0.0,
    }
    emulator.log.clear()
    for field, values in (
        ("window", {"window": "30", "peaks": 1, "floor": 0}),
        ("peaks", {"window": "60", "peaks": 2.5, "floor": 0}),
        ("peaks", {"window": "60", "peaks": 6, "floor": 0}),
        ("floor", {"window": "60", "peaks": 3, "floor": -1}),
        ("floor", {"window": "60", "peaks": 3, "floor": "2.5"}),
    ):
        form = await manager.async_configure(form["flow_id"], values)
        assert form["type"] is FlowResultType.FORM
        assert form["errors"] == {field: f"demand_{field}_invalid"}
    assert "demand" not in loaded_entry.options
    result = await manager.async_configure(
        form["flow_id"], {"window": "60", "peaks": 3, "floor": 2.5}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options["demand"] == {"window": 60, "peaks": 3, "floor": 2500.0}
    assert loaded_entry.runtime_data.demand.config.window_minutes == 60
    assert not [r for r in emulator.log if r.method != "GET"]  # the reload reads, nothing else
