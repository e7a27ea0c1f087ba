"""The meter link after a settings change: checked, undone in one step, or left with a repair.

Every test drives a frozen clock against the emulator, whose simulated meter stops talking when
the settings cannot reach it (a DSMR meter on the M-Bus interface: NOT CONNECTED).  What the
device received is read from its request log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import itertools
import json
import logging
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from custom_components.whatwatt.client.meter_settings import SPECS
from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.link import (
    Link,
    LinkRisk,
    MeterSettingsChange,
    link_risk,
    verdict,
)
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_pass_time, async_setup, make_entry
from .settings_common import KEY, METER_SETTINGS_PATH, loaded, meter_writes

POWER = "sensor.whatwatt_go_9f8124_meter_power_import"
INTERFACE = "select.whatwatt_go_9f8124_interface_type"
SYSTEM = "/api/v1/system"


@pytest.fixture
async def entry(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> AsyncIterator[MockConfigEntry]:
    """A loaded gateway with its sensors and selects, its meter reporting every 50 ms."""
    assert await async_setup_component(hass, "repairs", {})
    async with loaded(hass, emulator, [Platform.SENSOR, Platform.SELECT]) as entry:
        yield entry


def _issue_id(entry: MockConfigEntry) -> str:
    return f"meter_link_lost_{entry.entry_id}"


def _reads(emulator: Emulator) -> int:
    return len(emulator.requests("GET", SYSTEM))


async def _until(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, condition: Any, limit: float = 120
) -> float:
    """Let time pass a second at a time until ``condition()``; return the seconds it took."""
    waited = 0.0
    while not condition():
        assert waited < limit, "condition not met in time"
        await async_pass_time(hass, freezer, 1)
        waited += 1
    return waited


async def _lose_the_link(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    changes: dict[str, Any],
) -> None:
    """Write ``changes`` that cut the link (no flow), and let the check raise its issue."""
    await entry.runtime_data.link.async_write(changes)
    issues = ir.async_get(hass)
    await _until(
        hass, freezer, lambda: issues.async_get_issue(DOMAIN, _issue_id(entry)) is not None
    )


async def _flow_step(
    hass: HomeAssistant, result: FlowResult, freezer: FrozenDateTimeFactory
) -> Any:
    """Let the link check of ``result`` (a progress step) end; return the flow's next step."""
    manager = hass.config_entries.options
    assert result["type"] is FlowResultType.SHOW_PROGRESS, result
    await _until(
        hass, freezer, lambda: manager.async_get(result["flow_id"])["step_id"] != "check_link"
    )
    return await manager.async_configure(result["flow_id"])


async def _repair_step(
    hass: HomeAssistant, result: FlowResult, freezer: FrozenDateTimeFactory
) -> Any:
    """Let the link check of a repair flow's progress step end; return its next step."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    assert result["type"] is FlowResultType.SHOW_PROGRESS, result
    await _until(
        hass, freezer, lambda: manager.async_get(result["flow_id"])["step_id"] != "check_link"
    )
    return await manager.async_configure(result["flow_id"])


async def _dlms_meter_with_its_key(emulator_factory: EmulatorFactory) -> Emulator:
    """A DLMS meter that encrypts, the gateway set up with its right key (the link is OK)."""
    emulator = await emulator_factory(meter="dlms")
    emulator.store_meter_settings(
        {**emulator.meter_settings, "encryption": True, "encryption_key": emulator.config.meter_key}
    )
    return emulator


async def _change_in_options(
    hass: HomeAssistant, entry: MockConfigEntry, **changes: Any
) -> FlowResult:
    """Options → Edit settings → change → confirm: the flow is checking the link."""
    manager = hass.config_entries.options
    result = await manager.async_init(entry.entry_id)
    form = await manager.async_configure(result["flow_id"], {"next_step_id": "edit"})
    sections: dict[str, dict[str, Any]] = {str(key): {} for key in form["data_schema"].schema}
    for key, value in changes.items():
        sections[SPECS[key].section.value][key] = value
    result = await manager.async_configure(form["flow_id"], sections)
    if result["type"] is FlowResultType.FORM and result["step_id"] == "confirm":
        result = await manager.async_configure(result["flow_id"], {})
    return result


async def test_a_change_that_cuts_the_link_ends_in_the_link_lost_step(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """M-Bus on a P1 meter: the status settles on NOT CONNECTED, the step says so and names
    the change; the device got one PUT and two status reads, 5 s apart."""
    emulator.log.clear()
    result = await _change_in_options(hass, entry, if_type="mbus")
    assert result["step_id"] == "check_link"
    waited = await _until(
        hass,
        freezer,
        lambda: hass.config_entries.options.async_get(result["flow_id"])["step_id"] != "check_link",
    )
    assert waited <= 10
    result = await hass.config_entries.options.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "link_lost"
    assert result["menu_options"] == ["undo", "edit_again", "keep"]
    assert result["description_placeholders"] == {
        "name": "whatwatt Go 9F8124",
        "status": "Not connected",
        "changes": "- Interface type: Automatic → M-Bus",
    }
    assert meter_writes(emulator) == [("PUT", {"if_type": "mbus"})]
    assert [r.path for r in emulator.log] == [
        METER_SETTINGS_PATH,  # the form reads the device
        METER_SETTINGS_PATH,  # PUT
        METER_SETTINGS_PATH,  # read back
        SYSTEM,  # the check: at once
        SYSTEM,  # and 5 s later: the same status twice, the link is lost
    ]
    issue = issue_registry.async_get_issue(DOMAIN, _issue_id(entry))
    assert issue is not None
    assert issue.is_fixable
    # No more reads for the check once it is over.
    reads = _reads(emulator)
    await async_pass_time(hass, freezer, 20)
    assert _reads(emulator) == reads


async def test_undo_puts_back_exactly_the_changed_fields_and_the_link_returns(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Undo: one PUT with the previous values of the changed fields only, a new check that
    ends OK (data flows again), the flow done and the repair issue gone."""
    result = await _change_in_options(hass, entry, if_type="mbus", protocol="dsmr")
    result = await _flow_step(hass, result, freezer)
    assert result["step_id"] == "link_lost"
    emulator.log.clear()
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "undo"}
    )
    assert meter_writes(emulator) == [("PUT", {"if_type": "auto", "protocol": "auto"})]
    result = await _flow_step(hass, result, freezer)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
    assert emulator.meter_settings["if_type"] == "auto"
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE
    assert entry.runtime_data.link.last_change is None


async def test_keep_leaves_the_repair_whose_undo_brings_the_link_back(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Keep ends the flow and the issue stays; its fix flow's Undo is the same single PUT,
    and the issue is gone once the link is OK."""
    result = await _change_in_options(hass, entry, if_type="mbus")
    result = await _flow_step(hass, result, freezer)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "keep"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    issue = issue_registry.async_get_issue(DOMAIN, _issue_id(entry))
    assert issue is not None
    assert issue.translation_key == "meter_link_lost"
    assert issue.translation_placeholders == {
        "name": "whatwatt Go 9F8124",
        "status": "Not connected",
        "changes": "- Interface type: Automatic → M-Bus",
    }

    manager = repairs_flow_manager(hass)
    assert manager is not None
    fix = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
    assert fix["type"] is FlowResultType.MENU
    assert fix["step_id"] == "link_lost"
    assert fix["menu_options"] == ["undo", "edit_again", "keep"]
    emulator.log.clear()
    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "undo"})
    assert fix["type"] is FlowResultType.SHOW_PROGRESS
    assert meter_writes(emulator) == [("PUT", {"if_type": "auto"})]
    fix = await _repair_step(hass, fix, freezer)
    assert fix["type"] is FlowResultType.CREATE_ENTRY
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None


async def test_the_repair_withdraws_itself_when_the_link_is_fixed_elsewhere(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Fixed on the device itself (its web page): meter data flows again, the status is read
    at once, and the issue withdraws itself."""
    result = await _change_in_options(hass, entry, if_type="mbus")
    await _flow_step(hass, result, freezer)
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None
    emulator.store_meter_settings({**emulator.meter_settings, "if_type": "auto"})
    waited = await _until(
        hass, freezer, lambda: issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
    )
    assert waited <= 6  # at most one status read per 5 s


async def test_a_change_of_time_or_scaling_alone_is_not_checked(
    hass: HomeAssistant, entry: MockConfigEntry, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """Conversion factor and time offset cannot cut the link: the flow ends at once and the
    device gets nothing but the PUT and its read-back."""
    manager = hass.config_entries.options
    result = await manager.async_init(entry.entry_id)
    form = await manager.async_configure(result["flow_id"], {"next_step_id": "edit"})
    emulator.log.clear()
    sections: dict[str, dict[str, Any]] = {str(key): {} for key in form["data_schema"].schema}
    sections["time_scaling"] = {"conv_factor": 2, "time_offset": 60}
    result = await manager.async_configure(form["flow_id"], sections)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await async_pass_time(hass, freezer, 30)
    assert [(r.method, r.path) for r in emulator.log] == [
        ("PUT", METER_SETTINGS_PATH),
        ("GET", METER_SETTINGS_PATH),
    ]


async def test_a_key_change_that_cuts_the_link_offers_to_enter_or_clear_the_key(
    hass: HomeAssistant,
    hass_client: Any,
    hass_storage: dict[str, Any],
    emulator_factory: Any,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A DLMS meter given a wrong key: the step says undo cannot bring a key back and offers
    to enter it again or to clear it; the key is in no step, issue, log, stored file,
    attribute or diagnostics."""
    caplog.set_level(logging.DEBUG)
    assert await async_setup_component(hass, "repairs", {})
    emulator = await emulator_factory(meter="dlms")
    emulator.store_meter_settings({**emulator.meter_settings, "encryption": True})
    emulator.store_meter_settings(
        {**emulator.meter_settings, "encryption_key": emulator.config.meter_key}
    )
    async with loaded(hass, emulator, []) as entry:
        result = await _change_in_options(hass, entry, encryption_key=KEY)
        result = await _flow_step(hass, result, freezer)
        assert result["step_id"] == "link_lost_key"
        assert result["menu_options"] == ["reenter_key", "clear_key", "keep"]
        assert result["description_placeholders"]["status"] == "Wrong encryption key"
        assert (
            "Encryption key: changed (not shown)" in result["description_placeholders"]["changes"]
        )
        issue = issue_registry.async_get_issue(DOMAIN, _issue_id(entry))
        assert issue is not None
        for text in (str(result), str(issue.translation_placeholders)):
            assert KEY not in text
            assert KEY.lower() not in text
        # The key-required issue is not raised on top: the link issue is the specific one.
        assert issue_registry.async_get_issue(DOMAIN, f"meter_not_talking_{entry.entry_id}") is None
        emulator.log.clear()
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "clear_key"}
        )
        assert meter_writes(emulator) == [("PUT", {"encryption_key": "0" * 32})]
        result = await _flow_step(hass, result, freezer)
        assert result["step_id"] == "link_lost_key"  # no key at all: KEY REQUIRED
        assert result["description_placeholders"]["status"] == "Encryption key required"
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "reenter_key"}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "edit"
        assert KEY not in str(result)

        # Make Home Assistant write what it keeps (entries, registries, issues) to .storage.
        hass.config_entries.async_update_entry(entry, title="Meter gateway")
        await async_pass_time(hass, freezer, 600, step=60)
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        for where in (
            caplog.text,
            json.dumps(hass_storage, default=str),
            json.dumps([dict(state.attributes) for state in hass.states.async_all()], default=str),
            json.dumps(diagnostics, default=str),
        ):
            assert KEY not in where
            assert KEY.lower() not in where


async def test_key_required_without_a_change_of_ours_keeps_its_own_issue(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The meter asks for a key by itself (not after our change): the DLMS-key issue, not the
    link issue."""
    emulator.set_meter_status("KEY REQUIRED")
    await entry.runtime_data.system.async_refresh()
    assert issue_registry.async_get_issue(DOMAIN, f"meter_not_talking_{entry.entry_id}")
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None


async def test_a_setting_entity_that_cuts_the_link_raises_the_repair(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The interface-type select set to M-Bus: the write returns at once (the state is the
    read-back), the check runs in the background and raises the repair."""
    await hass.services.async_call(
        "select", "select_option", {"entity_id": INTERFACE, "option": "mbus"}, blocking=True
    )
    assert hass.states.get(INTERFACE).state == "mbus"
    await _until(
        hass, freezer, lambda: issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None
    )


@pytest.mark.parametrize(
    ("changes", "fault", "link", "status"),
    [
        pytest.param({"if_type": "p1"}, None, "ok", "ok", id="ok"),
        pytest.param({"if_type": "mbus"}, None, "lost", "not_connected", id="lost"),
        pytest.param({"if_type": "mbus"}, "stop", "unreachable", None, id="unreachable"),
        pytest.param({"time_offset": 60}, None, "not_checked", "ok", id="not-checked"),
    ],
)
async def test_verify_link_makes_the_action_wait_for_the_outcome(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    changes: dict[str, Any],
    fault: str | None,
    link: str,
    status: str | None,
) -> None:
    """set_meter_settings with verify_link: true returns link and meter_status, so an
    automation can act on the outcome."""
    reads = _reads(emulator)
    task = asyncio.get_running_loop().create_task(  # not a tracked task: time must pass
        hass.services.async_call(
            DOMAIN,
            "set_meter_settings",
            {**changes, "verify_link": True},
            blocking=True,
            return_response=True,
        )
    )
    if fault == "stop":  # the gateway goes away after the first status read of the check
        while _reads(emulator) == reads:
            await hass.loop.run_in_executor(None, time.sleep, 0.002)
        await emulator.stop()
    for _ in range(120):  # the action call is a task Home Assistant awaits: do not block on it
        if task.done():
            break
        await async_pass_time(hass, freezer, 1, block=False)
    response = task.result()
    assert response is not None
    assert response["link"] == link
    assert response["meter_status"] == status


async def test_verify_link_must_be_a_boolean(
    hass: HomeAssistant, entry: MockConfigEntry, emulator: Emulator
) -> None:
    """verify_link: "yes" is refused before anything is sent."""
    from homeassistant.exceptions import ServiceValidationError  # noqa: PLC0415

    emulator.log.clear()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_meter_settings",
            {"if_type": "p1", "verify_link": "yes"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "verify_link_invalid"
    assert emulator.log == []


async def test_the_gateway_gone_during_the_check_is_its_own_outcome(
    hass: HomeAssistant, entry: MockConfigEntry, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """The gateway stops answering while the link is checked: the flow says so (not "lost"),
    and an undo that cannot reach it ends the flow with the reason."""
    result = await _change_in_options(hass, entry, if_type="mbus")
    await emulator.stop()
    result = await _flow_step(hass, result, freezer)
    assert result["step_id"] == "link_unreachable"
    assert result["menu_options"] == ["undo", "edit_again", "keep"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "undo"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_edit_again_shows_the_users_entries(
    hass: HomeAssistant, entry: MockConfigEntry, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """Edit again: the form with what the user entered (the device's values underneath)."""
    result = await _change_in_options(hass, entry, if_type="mbus")
    result = await _flow_step(hass, result, freezer)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "edit_again"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "edit"
    suggested = {
        str(marker): marker.description["suggested_value"]
        for part in result["data_schema"].schema.values()
        for marker in part.schema.schema
        if marker.description and "suggested_value" in marker.description
    }
    assert suggested["if_type"] == "mbus"


async def test_a_status_stuck_in_recognition_is_lost_after_the_window(
    hass: HomeAssistant, entry: MockConfigEntry, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """RECOGNITION is transitional: it never settles a check, but no data within
    max(30 s, 3 x report interval) means the link is lost; the status is read every 5 s."""
    emulator.log.clear()
    result = await _change_in_options(hass, entry, baudrate=9600, auto_baudrate=False)
    emulator.set_meter_status("RECOGNITION")
    waited = await _until(
        hass,
        freezer,
        lambda: hass.config_entries.options.async_get(result["flow_id"])["step_id"] != "check_link",
    )
    assert 30 <= waited <= 32
    result = await hass.config_entries.options.async_configure(result["flow_id"])
    assert result["step_id"] == "link_lost"
    assert result["description_placeholders"]["status"] == "Recognizing the meter"
    reads = [r.time for r in emulator.requests("GET", SYSTEM)]
    assert all(later - earlier >= 5 - 0.01 for earlier, later in itertools.pairwise(reads))
    assert result["description_placeholders"]["changes"] == (
        "- Baud rate: 115200 → 9600\n- Detect serial settings automatically: on → off"
    )


async def test_a_newer_change_supersedes_the_check_of_the_older_one(
    hass: HomeAssistant, entry: MockConfigEntry, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """Two changes in a row: the first one's waiter learns its check was not finished (a newer
    check runs), the newer one gives the outcome."""
    link = entry.runtime_data.link
    first = await link.async_write({"if_type": "mbus"})
    second = await link.async_write({"if_type": "auto"})
    outcome = asyncio.get_running_loop().create_task(link.async_outcome(first))
    await async_pass_time(hass, freezer, 1)
    assert outcome.done()
    assert outcome.result().link == "not_checked"
    newer = asyncio.get_running_loop().create_task(link.async_outcome(second))
    await _until(hass, freezer, newer.done)
    assert newer.result().link == "ok"


async def test_repair_undo_that_fails_offers_the_choices_again_and_keep_closes_the_issue(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Undo that does not bring the link back says so, with the same choices, and the issue
    stays; *Keep it as it is* closes the issue and forgets the change."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    await _lose_the_link(hass, freezer, entry, {"if_type": "mbus", "baudrate": 9600})
    emulator.set_meter_status("NOT CONNECTED")  # something else is wrong as well
    fix = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
    assert "Baud rate: 115200 → 9600" in fix["description_placeholders"]["changes"]
    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "undo"})
    fix = await _repair_step(hass, fix, freezer)
    assert fix["type"] is FlowResultType.MENU
    assert fix["step_id"] == "link_lost"
    assert fix["description_placeholders"]["status"] == "Not connected"
    assert fix["menu_options"] == ["undo", "edit_again", "keep"]
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None

    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "keep"})
    assert fix["type"] is FlowResultType.CREATE_ENTRY
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
    assert entry.runtime_data.link.last_change is None


@pytest.mark.parametrize("flow", ["options", "repair"])
async def test_both_flows_offer_the_same_choices_after_a_key_change(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    flow: str,
) -> None:
    """A wrong key lost the link: right after the change (options) and later (the repair)
    the user gets the same steps: enter the key again (the settings form, key fields empty),
    or clear it (one PUT of 32 zeros, then the link is checked again)."""
    assert await async_setup_component(hass, "repairs", {})
    emulator = await _dlms_meter_with_its_key(emulator_factory)
    async with loaded(hass, emulator, []) as entry:
        result = await _change_in_options(hass, entry, encryption_key=KEY)
        result = await _flow_step(hass, result, freezer)
        step: Any = _flow_step
        configure = hass.config_entries.options.async_configure
        if flow == "repair":
            manager = repairs_flow_manager(hass)
            assert manager is not None
            result = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
            step, configure = _repair_step, manager.async_configure
        assert result["step_id"] == "link_lost_key"
        assert result["menu_options"] == ["reenter_key", "clear_key", "keep"]
        form = await configure(result["flow_id"], {"next_step_id": "reenter_key"})
        assert form["type"] is FlowResultType.FORM
        assert form["step_id"] == "edit"
        assert "encryption_key" in {
            str(marker)
            for part in form["data_schema"].schema.values()
            for marker in part.schema.schema
        }
        assert KEY not in str(form)

        # The form is still open: the same flow goes on with the other choice.
        sections: dict[str, dict[str, Any]] = {str(key): {} for key in form["data_schema"].schema}
        sections["security"] = {"clear_encryption_key": True}
        result = await configure(result["flow_id"], sections)
        emulator.log.clear()
        if result["step_id"] == "confirm":
            result = await configure(result["flow_id"], {})
        assert meter_writes(emulator) == [("PUT", {"encryption_key": "0" * 32})]
        result = await step(hass, result, freezer)
        assert result["step_id"] == "link_lost_key"  # no key at all: KEY REQUIRED
        assert result["description_placeholders"]["status"] == "Encryption key required"
        emulator.log.clear()
        result = await configure(result["flow_id"], {"next_step_id": "clear_key"})
        assert meter_writes(emulator) == [("PUT", {"encryption_key": "0" * 32})]
        assert result["type"] is FlowResultType.SHOW_PROGRESS


async def test_repair_flow_of_an_unloaded_entry_aborts(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The gateway's entry is not loaded (the issue is gone with it, but a stale dialog may
    still be open): the fix flow aborts instead of failing."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    await _lose_the_link(hass, freezer, entry, {"if_type": "mbus"})
    fix = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
    await hass.config_entries.async_unload(entry.entry_id)
    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "undo"})
    assert fix["type"] is FlowResultType.ABORT
    assert fix["reason"] == "not_loaded"
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None


async def test_undo_that_cannot_reach_the_gateway_ends_the_repair_with_the_reason(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The repair's Undo while the gateway is away: the reason, and the issue stays."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    await _lose_the_link(hass, freezer, entry, {"if_type": "mbus"})
    fix = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
    await emulator.stop()
    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "undo"})
    assert fix["type"] is FlowResultType.ABORT
    assert fix["reason"] == "cannot_connect"
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None


async def test_undo_needs_a_change_to_undo(entry: MockConfigEntry) -> None:
    """Nothing changed (or only a key): there is nothing undo could put back."""
    with pytest.raises(RuntimeError):
        await entry.runtime_data.link.async_undo()


async def test_a_working_link_forgets_a_change_whose_check_could_not_finish(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The gateway went away during the check (no verdict, no issue); once it is back and the
    meter link is OK, the change is forgotten, so a later KEY REQUIRED that no change of ours
    caused asks for the key again."""
    link = entry.runtime_data.link
    reads = _reads(emulator)
    write = await link.async_write({"if_type": "mbus"})
    while _reads(emulator) == reads:
        await hass.loop.run_in_executor(None, time.sleep, 0.002)
    port = emulator.port
    await emulator.stop()
    outcome = asyncio.get_running_loop().create_task(link.async_outcome(write))
    await _until(hass, freezer, outcome.done)
    assert outcome.result().link == "unreachable"
    assert link.last_change is not None
    emulator.store_meter_settings({**emulator.meter_settings, "if_type": "auto"})
    await emulator.start(port=port)
    await _until(hass, freezer, lambda: link.last_change is None, limit=600)
    emulator.set_meter_status("KEY REQUIRED")
    await entry.runtime_data.system.async_refresh()
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, f"meter_not_talking_{entry.entry_id}")


async def test_a_slow_meter_is_waited_for(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """A meter that reports every 20 s: the status says OK at once, and the check keeps
    waiting (reading the status every 5 s) until data comes, within 3 report intervals."""
    emulator = await emulator_factory(report_interval=20.0)
    async with loaded(hass, emulator, []) as entry:
        link = entry.runtime_data.link
        await async_pass_time(hass, freezer, 3)  # off the meter's report instant
        reads = _reads(emulator)
        write = await link.async_write({"if_type": "p1"})
        outcome = asyncio.get_running_loop().create_task(link.async_outcome(write))
        waited = await _until(hass, freezer, outcome.done)
        assert outcome.result().link == "ok"
        assert 5 < waited <= 20
        assert _reads(emulator) - reads >= 2  # at once, and again after 5 s


async def test_clearing_a_key_that_cannot_be_sent_ends_the_flow_with_the_reason(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After a key change lost the link, *Clear the key* while the gateway is away: the flow
    ends saying so (nothing is reported as done)."""
    emulator = await _dlms_meter_with_its_key(emulator_factory)
    async with loaded(hass, emulator, []) as entry:
        result = await _change_in_options(hass, entry, encryption_key=KEY)
        result = await _flow_step(hass, result, freezer)
        assert result["step_id"] == "link_lost_key"
        await emulator.stop()
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "clear_key"}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "cannot_connect"


async def test_a_lost_link_survives_a_reload_and_its_undo_still_works(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Home Assistant reloads the entry (as it does 30 s after an entity is enabled) while
    the link is lost: within a minute the same issue is back, its Undo sends exactly one PUT
    of the previous values, and the issue withdraws once the link is OK."""
    await _lose_the_link(hass, freezer, entry, {"if_type": "mbus", "baudrate": 9600})
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    waited = await _until(
        hass, freezer, lambda: issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None
    )
    assert waited <= 60
    issue = issue_registry.async_get_issue(DOMAIN, _issue_id(entry))
    assert issue is not None
    assert issue.translation_placeholders["changes"] == (
        "- Baud rate: 115200 → 9600\n- Interface type: Automatic → M-Bus"
    )
    manager = repairs_flow_manager(hass)
    assert manager is not None
    fix = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
    emulator.log.clear()
    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "undo"})
    assert meter_writes(emulator) == [("PUT", {"baudrate": 115200, "if_type": "auto"})]
    fix = await _repair_step(hass, fix, freezer)
    assert fix["type"] is FlowResultType.CREATE_ENTRY
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
    assert entry.runtime_data.link.last_change is None


def _stored(entry_id: str, change: dict[str, Any]) -> dict[str, Any]:
    """The entry's storage file as Home Assistant keeps it, holding a change of the link."""
    return {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry_id}",
        "data": {"link": change},
    }


async def test_a_lost_link_is_back_after_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Home Assistant starts with a kept change while the meter is NOT CONNECTED (the change
    was made before the restart): the issue is back within a minute, with its Undo."""
    assert await async_setup_component(hass, "repairs", {})
    emulator.store_meter_settings({**emulator.meter_settings, "if_type": "mbus"})
    entry = make_entry(emulator)
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = _stored(
        entry.entry_id, {"fields": {"if_type": ["auto", "mbus"]}, "keys": []}
    )
    await async_setup(hass, entry)
    waited = await _until(
        hass, freezer, lambda: issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None
    )
    assert waited <= 60
    assert entry.runtime_data.link.last_change is not None
    assert entry.runtime_data.link.last_change.undo() == {"if_type": "auto"}


async def test_a_kept_change_is_forgotten_once_the_link_works(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The meter talks again after the restart (fixed meanwhile): no issue, and the kept change
    is gone from storage; removing the entry then leaves nothing of it in storage."""
    entry = make_entry(emulator)
    key = f"{DOMAIN}.{entry.entry_id}"
    hass_storage[key] = _stored(entry.entry_id, {"fields": {"if_type": ["auto", "p1"]}, "keys": []})
    await async_setup(hass, entry)
    await _until(hass, freezer, lambda: entry.runtime_data.link.last_change is None)
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
    await async_pass_time(hass, freezer, 5)
    assert "link" not in hass_storage[key]["data"]
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


@pytest.mark.parametrize(
    ("status", "previous", "reachable", "data_seen", "overdue", "expected"),
    [
        pytest.param("OK", None, True, True, False, Link.OK, id="ok-with-data"),
        pytest.param("OK", None, True, False, False, None, id="ok-waiting-for-data"),
        pytest.param("OK", None, True, False, True, Link.LOST, id="ok-but-no-data-in-time"),
        pytest.param("NOT CONNECTED", None, True, False, False, None, id="first-bad-status"),
        pytest.param("NOT CONNECTED", "NOT CONNECTED", True, False, False, Link.LOST, id="settled"),
        pytest.param("NO DATA", "NOT CONNECTED", True, False, False, None, id="still-moving"),
        pytest.param("RECOGNITION", "RECOGNITION", True, False, False, None, id="recognising"),
        pytest.param("RECOGNITION", "RECOGNITION", True, False, True, Link.LOST, id="stuck"),
        pytest.param(None, None, True, True, False, None, id="no-fresh-read-yet"),
        pytest.param(None, "OK", False, True, False, Link.UNREACHABLE, id="gateway-gone"),
    ],
)
def test_the_verdict_of_a_check(
    status: str | None,
    previous: str | None,
    reachable: bool,
    data_seen: bool,
    overdue: bool,
    expected: Link | None,
) -> None:
    """How a check decides, from what it has seen (no timing involved)."""
    assert (
        verdict(
            status=status,
            previous=previous,
            reachable=reachable,
            data_seen=data_seen,
            overdue=overdue,
        )
        is expected
    )


@pytest.mark.parametrize(
    ("key", "value", "risk"),
    [
        ("if_type", "mbus", LinkRisk.CONFIRMED),
        ("if_type", "auto", LinkRisk.CHECKED),
        ("baudrate", 9600, LinkRisk.CONFIRMED),
        ("auto_baudrate", True, LinkRisk.CHECKED),
        ("rx_invert", True, LinkRisk.CONFIRMED),
        ("encryption", False, LinkRisk.CHECKED),
        ("encryption_key", "0" * 32, LinkRisk.CONFIRMED),
        ("authentication_key", KEY, LinkRisk.CONFIRMED),
        ("scalers_set", "custom", LinkRisk.CHECKED),
        ("scalers_set", "default", LinkRisk.CHECKED),
        ("conv_factor", 2, LinkRisk.NONE),
        ("time_offset", 60, LinkRisk.NONE),
        ("sync_time_offset_with_ntp", True, LinkRisk.NONE),
    ],
)
def test_what_a_change_can_do_to_the_link(key: str, value: Any, risk: LinkRisk) -> None:
    """One rule: leaving "automatic"/"off" or any key is confirmed first and checked after; a
    return to the default, and the scaler set (the gateway detects the meter again), are
    checked without asking; time and scaling are neither."""
    assert link_risk(key, value) is risk


def test_a_kept_change_holds_no_key_and_reads_back_the_same() -> None:
    """What the store keeps: the readable fields' values, a key by its name only; a broken or
    unknown file is no change at all."""
    change = MeterSettingsChange(fields={"if_type": ("auto", "mbus")}, keys=("encryption_key",))
    kept = json.loads(json.dumps(change.as_dict()))
    assert kept == {"fields": {"if_type": ["auto", "mbus"]}, "keys": ["encryption_key"]}
    assert MeterSettingsChange.from_dict(kept) == change
    assert MeterSettingsChange.from_dict(None) is None
    assert MeterSettingsChange.from_dict({"fields": [], "keys": []}) is None
    odd = {"fields": {"if_type": ["auto"], "nonsense": [1, 2]}, "keys": ["KEY", "encryption_key"]}
    assert MeterSettingsChange.from_dict(odd) == MeterSettingsChange(
        fields={}, keys=("encryption_key",)
    )


async def test_a_flow_checking_the_link_ends_cleanly_when_the_entry_reloads(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The entry reloads while the options flow waits for the check: the flow ends saying the
    check was interrupted (not "done"), and the reloaded entry checks the kept change itself."""
    result = await _change_in_options(hass, entry, if_type="mbus")
    assert result["step_id"] == "check_link"
    assert await hass.config_entries.async_reload(entry.entry_id)
    manager = hass.config_entries.options
    await _until(
        hass, freezer, lambda: manager.async_get(result["flow_id"])["step_id"] != "check_link"
    )
    result = await manager.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "check_interrupted"
    await _until(
        hass, freezer, lambda: issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None
    )


async def test_a_status_read_before_the_change_does_not_decide_its_check(
    hass: HomeAssistant, entry: MockConfigEntry, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """Right after the write the coordinators still hold what they had before it (meter OK,
    data flowing): the check ignores both until a read begun after the change comes in, and
    only data that arrives counts (a failure does not)."""
    link = entry.runtime_data.link
    write = await link.async_write({"if_type": "mbus"})  # its first status read is under way
    entry.runtime_data.system.async_update_listeners()  # the status from before: OK
    entry.runtime_data.live.async_set_update_error(RuntimeError("data stopped"))
    entry.runtime_data.live.async_set_updated_data(entry.runtime_data.live.data)
    outcome = asyncio.get_running_loop().create_task(link.async_outcome(write))
    await _until(hass, freezer, outcome.done)
    assert outcome.result().link == "lost"
    assert outcome.result().meter_status == "NOT CONNECTED"
