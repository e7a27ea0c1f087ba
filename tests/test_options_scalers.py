"""The options flow's "Custom scalers" step shows and edits the list on the device itself.

All tests run against the emulator (a DLMS meter, which has scalers): what the device received
comes from its request log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.helpers import config_validation as cv
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt.client.scalers import Reason
from whatwatt_emulator import Emulator, routes
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .client_common import SCALERS_CUSTOM as CUSTOM, scaler_posts
from .settings_common import (
    arm,
    async_after_link_check,
    loaded,
    meter_writes,
    without_reported,
)

TRANSLATIONS = Path(__file__).resolve().parent.parent / "custom_components/whatwatt/translations"
LANGUAGES = sorted(path.stem for path in TRANSLATIONS.glob("*.json"))
EXAMPLE = [{"obis": "1.7.0", "scaler": -2}, {"obis": "1.8.255", "scaler": 3}]
ROW = {"obis": "2.8.0", "scaler": 3}


@pytest.fixture
async def dlms(emulator_factory: EmulatorFactory) -> Emulator:
    """A gateway reading a DLMS meter (it reports the scalers in use)."""
    return await emulator_factory(meter="dlms")


@pytest.fixture
async def entry(hass: HomeAssistant, dlms: Emulator) -> AsyncIterator[MockConfigEntry]:
    """The integration set up against the DLMS gateway (the flow needs no entity platform)."""
    async with loaded(hass, dlms, []) as entry:
        yield entry


async def open_scalers(hass: HomeAssistant, entry: MockConfigEntry) -> FlowResult:
    """Open the options and choose "Custom scalers"."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert "scalers" in result["menu_options"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "scalers"}
    )


async def submit(hass: HomeAssistant, form: FlowResult, **data: Any) -> FlowResult:
    """Submit the step as the frontend does."""
    return await hass.config_entries.options.async_configure(form["flow_id"], data)


def suggested(form: FlowResult) -> dict[str, Any]:
    """Return the form's suggested values by field."""
    return {
        str(marker): marker.description["suggested_value"]
        for marker in form["data_schema"].schema
        if marker.description and "suggested_value" in marker.description
    }


def shown(form: FlowResult) -> dict[str, Any]:
    """Return the selector of each field, as the frontend receives it."""
    fields = probatio.to_field_list(form["data_schema"], custom_serializer=cv.custom_serializer)
    return {field["name"]: field["selector"] for field in fields}


# --- opening ---------------------------------------------------------------------------------


async def test_step_opens_on_what_the_device_has_now(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """The set in use, the scalers in use and the custom list, all read fresh."""
    dlms.custom_scalers = list(EXAMPLE)
    form = await open_scalers(hass, entry)
    assert form["type"] is FlowResultType.FORM
    assert form["step_id"] == "scalers"
    assert suggested(form) == {"scalers": EXAMPLE}
    placeholders = form["description_placeholders"]
    assert placeholders["scalers_set"] == "Automatic"
    assert placeholders["current"].startswith("1.8.0: 0, 2.8.0: 0, ")
    assert "31.7.0: -2" in placeholders["current"]
    assert [(r.method, r.path) for r in dlms.log] == [
        ("GET", "/api/v1/meter/settings"),
        ("GET", "/api/v1/meter/scalers/current"),
        ("GET", CUSTOM),
    ]


async def test_step_edits_the_list_row_by_row_with_the_rules_shown(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """A list editor (object selector, multiple): a row per scaler, shown by its OBIS code,
    a text box for the code and a number box -6..6 for the scaler, translated field names."""
    selectors = shown(await open_scalers(hass, entry))
    editor = selectors["scalers"]["object"]
    assert {key: editor[key] for key in ("multiple", "label_field", "description_field")} == {
        "multiple": True,
        "label_field": "obis",
        "description_field": "scaler",
    }
    assert editor["translation_key"] == "scalers"
    assert editor["fields"]["obis"]["required"] is True
    assert "text" in editor["fields"]["obis"]["selector"]
    assert editor["fields"]["scaler"]["required"] is True
    number = editor["fields"]["scaler"]["selector"]["number"]
    assert (number["min"], number["max"], number["step"], number["mode"]) == (-6, 6, 1, "box")
    assert selectors["switch_to_custom"] == {"boolean": {}}


async def test_step_while_custom_scalers_are_in_use_offers_no_switch(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """The custom set is in use: the step says so, and there is nothing to switch."""
    dlms.store_meter_settings({**dlms.meter_settings, "scalers_set": "custom"})
    form = await open_scalers(hass, entry)
    assert form["description_placeholders"]["scalers_set"] == "Custom scalers"
    assert list(shown(form)) == ["scalers"]
    assert entry.runtime_data.meter_settings.data.scalers_set == "custom"


async def test_step_of_a_meter_without_scalers_shows_none_in_use(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """A DSMR meter has no scalers in use: a dash, and the custom list can still be edited."""
    async with loaded(hass, emulator, []) as entry:
        form = await open_scalers(hass, entry)
        assert form["description_placeholders"]["current"] == "-"
        assert suggested(form) == {"scalers": []}


async def test_step_on_firmware_without_a_scaler_set_says_so(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    dlms: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A firmware that does not report scalers_set: a dash for the set, and the switch."""
    without_reported(monkeypatch, "scalers_set")
    form = await open_scalers(hass, entry)
    assert form["description_placeholders"]["scalers_set"] == "-"
    assert "switch_to_custom" in shown(form)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        pytest.param({"fail_next": 503}, "device_rejected", id="first-read"),
        pytest.param({"reset_next": 6}, "cannot_connect", id="no-answer"),
    ],
)
async def test_step_aborts_when_the_device_cannot_be_read(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator, fault: dict[str, int], reason: str
) -> None:
    """No form on stale data: the flow ends, saying what happened."""
    arm(dlms, fault)
    result = await open_scalers(hass, entry)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_step_aborts_when_the_entry_is_no_longer_loaded(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """Chosen after the gateway was unloaded: no device to talk to."""
    menu = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.async_unload(entry.entry_id)
    dlms.log.clear()
    result = await hass.config_entries.options.async_configure(
        menu["flow_id"], {"next_step_id": "scalers"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"
    assert dlms.log == []


# --- saving ----------------------------------------------------------------------------------


async def test_step_sends_the_whole_edited_list_in_one_post(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """A row changed, one removed, one added: one POST of the whole list, read back; the
    entry's options stay as they are and the meter settings are not touched."""
    dlms.custom_scalers = list(EXAMPLE)
    form = await open_scalers(hass, entry)
    dlms.log.clear()
    edited = [{"obis": "1.7.0", "scaler": -1}, {"obis": "01.8.0", "scaler": 3.0}]
    result = await submit(hass, form, scalers=edited)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == dict(entry.options)
    assert scaler_posts(dlms) == [[{"obis": "1.7.0", "scaler": -1}, {"obis": "1.8.0", "scaler": 3}]]
    assert [(r.method, r.path) for r in dlms.log] == [("POST", CUSTOM), ("GET", CUSTOM)]
    assert meter_writes(dlms) == []


async def test_step_sends_nothing_for_an_unchanged_list(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """The same rows (in another order, another spelling) are no change: nothing is sent."""
    dlms.custom_scalers = list(EXAMPLE)
    form = await open_scalers(hass, entry)
    dlms.log.clear()
    same = [{"obis": "1.08.255", "scaler": 3}, {"obis": "1.7.0", "scaler": -2}]
    result = await submit(hass, form, scalers=same)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dlms.log == []


@pytest.mark.parametrize("data", [{"scalers": []}, {}], ids=["empty-list", "no-list"])
async def test_step_with_every_row_removed_clears_the_list(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator, data: dict[str, Any]
) -> None:
    """An empty editor (the frontend may leave the field out) removes every custom scaler."""
    dlms.custom_scalers = list(EXAMPLE)
    form = await open_scalers(hass, entry)
    result = await submit(hass, form, **data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert scaler_posts(dlms) == [[]]
    assert dlms.custom_scalers == []


INVALID = [
    pytest.param({"scalers": ROW}, Reason.NOT_A_LIST, "", "", id="not-a-list"),
    pytest.param({"scalers": [ROW, "2.8.0"]}, Reason.INVALID_ENTRY, "2", "", id="row-not-object"),
    pytest.param({"scalers": [{"scaler": 1}]}, Reason.MISSING_FIELD, "1", "OBIS code",
                 id="obis-missing"),
    pytest.param({"scalers": [{"obis": "", "scaler": 1}]}, Reason.MISSING_FIELD, "1", "OBIS code",
                 id="obis-empty"),
    pytest.param({"scalers": [ROW, {"obis": "1.8.0"}]}, Reason.MISSING_FIELD, "2", "Scaler",
                 id="scaler-missing"),
    pytest.param({"scalers": [{**ROW, "unit": "W"}]}, Reason.EXTRA_FIELD, "1", "unit",
                 id="extra-field"),
    pytest.param({"scalers": [{**ROW, "obis": "1.8"}]}, Reason.INVALID_OBIS, "1", "OBIS code",
                 id="obis-not-c-d-e"),
    pytest.param({"scalers": [{**ROW, "obis": "1.255.0"}]}, Reason.OUT_OF_RANGE, "1", "OBIS code",
                 id="obis-out-of-range"),
    pytest.param({"scalers": [{**ROW, "scaler": 9}]}, Reason.OUT_OF_RANGE, "1", "Scaler",
                 id="scaler-out-of-range"),
    pytest.param({"scalers": [{**ROW, "scaler": 2.5}]}, Reason.INVALID_TYPE, "1", "Scaler",
                 id="scaler-not-whole"),
    pytest.param({"scalers": [ROW, {**ROW, "obis": "02.8.0"}]}, Reason.DUPLICATE_OBIS, "2",
                 "OBIS code", id="duplicate-obis"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "reason", "row", "field"), INVALID)
async def test_step_refuses_a_bad_row_naming_it_and_sends_nothing(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    dlms: Emulator,
    data: dict[str, Any],
    reason: Reason,
    row: str,
    field: str,
) -> None:
    """Each rule: the form again, the error on the list naming the row (from 1) and the field
    in the user's language, what was entered kept; nothing sent."""
    form = await open_scalers(hass, entry)
    dlms.log.clear()
    result = await submit(hass, form, **data, switch_to_custom=True)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"scalers": f"scalers_{reason}"}
    assert result["description_placeholders"]["row"] == row
    assert result["description_placeholders"]["field"] == field
    assert suggested(result)["scalers"] == data.get("scalers")
    assert dlms.log == []


async def test_step_names_the_earlier_row_of_a_duplicate(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Row 3 repeats row 1: both are named."""
    form = await open_scalers(hass, entry)
    rows = [ROW, {"obis": "1.8.0", "scaler": 0}, {"obis": "2.8.255", "scaler": 0}, ROW]
    result = await submit(hass, form, scalers=rows)
    assert result["errors"] == {"scalers": "scalers_duplicate_obis"}
    assert result["description_placeholders"]["row"] == "4"
    assert result["description_placeholders"]["other_row"] == "1"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param({"fail_next": 400}, "device_rejected", id="rejected"),
        pytest.param({"reset_next": 1}, "cannot_connect", id="connection-lost"),
    ],
)
async def test_step_failed_write_keeps_the_list_entered(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    dlms: Emulator,
    fault: dict[str, int],
    error: str,
) -> None:
    """The device refused or did not answer: the shared error, the rows entered kept, no
    switch; submitted again, the list goes out."""
    form = await open_scalers(hass, entry)
    arm(dlms, fault)
    result = await submit(hass, form, scalers=EXAMPLE, switch_to_custom=True)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert suggested(result) == {"scalers": EXAMPLE, "switch_to_custom": True}
    assert meter_writes(dlms) == []
    result = await submit(hass, result, scalers=EXAMPLE)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dlms.custom_scalers == EXAMPLE


async def test_step_reports_a_list_the_device_did_not_take(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    dlms: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """200 but another list read back: an error naming the list, the rows entered kept; the
    list the device has is what the next submit compares with."""
    form = await open_scalers(hass, entry)
    validate_custom = routes.scalers.validate_custom
    monkeypatch.setattr(routes.scalers, "validate_custom", lambda body: validate_custom(body)[1:])
    result = await submit(hass, form, scalers=EXAMPLE)
    assert result["errors"] == {"base": "setting_not_applied"}
    assert result["description_placeholders"]["field"] == "Custom scalers"
    assert suggested(result)["scalers"] == EXAMPLE
    monkeypatch.undo()
    dlms.log.clear()
    result = await submit(hass, result, scalers=EXAMPLE[1:])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dlms.log == []


# --- switching the scaler set ----------------------------------------------------------------


async def test_step_saves_the_list_then_switches_the_set_to_custom(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """The list first (POST), then the meter-settings change (PUT of scalers_set alone);
    the gateway then applies the custom scalers."""
    form = await open_scalers(hass, entry)
    dlms.log.clear()
    result = await submit(
        hass, form, scalers=[{"obis": "1.8.255", "scaler": 3}], switch_to_custom=True
    )
    result = await async_after_link_check(hass, result)  # scalers_set is a link field
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [(r.method, r.path) for r in dlms.log if r.method != "GET"] == [
        ("POST", CUSTOM),
        ("PUT", "/api/v1/meter/settings"),
    ]
    assert meter_writes(dlms) == [("PUT", {"scalers_set": "custom"})]
    assert entry.runtime_data.meter_settings.data.scalers_set == "custom"
    current = await entry.runtime_data.client.current_scalers()
    assert {s.obis: s.scaler for s in current}["1.8.0"] == 3


async def test_step_switches_the_set_without_a_list_change(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """Only the switch: no POST, one PUT."""
    dlms.custom_scalers = list(EXAMPLE)
    form = await open_scalers(hass, entry)
    result = await submit(hass, form, scalers=EXAMPLE, switch_to_custom=True)
    result = await async_after_link_check(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert scaler_posts(dlms) == []
    assert meter_writes(dlms) == [("PUT", {"scalers_set": "custom"})]


async def test_step_without_the_switch_leaves_the_set_alone(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """The switch off: the list is saved, the scaler set stays."""
    form = await open_scalers(hass, entry)
    result = await submit(hass, form, scalers=EXAMPLE, switch_to_custom=False)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meter_writes(dlms) == []
    assert dlms.meter_settings["scalers_set"] == "default"


async def test_step_failed_switch_shows_the_settings_form_with_the_change(
    hass: HomeAssistant, entry: MockConfigEntry, dlms: Emulator
) -> None:
    """The switch is a settings change made by the flow's own apply path: when the device
    refuses it, the settings form shows why, filled in with the device's settings and the
    scaler set asked for; submitted again, it goes through."""
    form = await open_scalers(hass, entry)
    dlms.faults.fail_next(status=400)
    result = await submit(hass, form, scalers=[], switch_to_custom=True)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "edit"
    assert result["errors"] == {"time_scaling": "field_rejected"}
    values = {
        str(marker): marker.description["suggested_value"]
        for part in result["data_schema"].schema.values()
        for marker in part.schema.schema
        if marker.description and "suggested_value" in marker.description
    }
    assert values["scalers_set"] == "custom"
    assert values["baudrate"] == dlms.meter_settings["baudrate"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"serial": {}, "interface": {}, "security": {}, "time_scaling": {"scalers_set": "custom"}},
    )
    result = await async_after_link_check(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dlms.meter_settings["scalers_set"] == "custom"


# --- texts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reason_has_a_form_error_and_an_action_error(language: str) -> None:
    """A refused list is explained in every language, in the form and in an action."""
    texts = json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))
    for reason in Reason:
        assert texts["options"]["error"][f"scalers_{reason}"], reason
        assert texts["exceptions"][f"setting_{reason}"]["message"], reason
    fields = texts["selector"]["scalers"]["fields"]
    assert {key: bool(text["name"] and text["description"]) for key, text in fields.items()} == {
        "obis": True,
        "scaler": True,
    }
