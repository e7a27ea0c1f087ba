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
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_pass_time
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
    assert fix["menu_options"] == ["undo", "dismiss"]
    emulator.log.clear()
    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "undo"})
    assert fix["type"] is FlowResultType.SHOW_PROGRESS
    assert meter_writes(emulator) == [("PUT", {"if_type": "auto"})]
    await _until(hass, freezer, lambda: manager.async_get(fix["flow_id"])["step_id"] != "undo")
    fix = await manager.async_configure(fix["flow_id"])
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
        assert (
            issue_registry.async_get_issue(DOMAIN, f"meter_key_required_{entry.entry_id}") is None
        )
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
    assert issue_registry.async_get_issue(DOMAIN, f"meter_key_required_{entry.entry_id}")
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


async def test_repair_flow_dismiss_forgets_the_change_and_undo_that_fails_is_still_lost(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Undo that does not bring the link back says so and the issue stays; "I will fix it
    myself" closes the issue and forgets the change."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    await _lose_the_link(hass, freezer, entry, {"if_type": "mbus", "baudrate": 9600})
    emulator.set_meter_status("NOT CONNECTED")  # something else is wrong as well
    fix = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
    assert "Baud rate: 115200 → 9600" in fix["description_placeholders"]["changes"]
    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "undo"})
    await _until(hass, freezer, lambda: manager.async_get(fix["flow_id"])["step_id"] != "undo")
    fix = await manager.async_configure(fix["flow_id"])
    assert fix["type"] is FlowResultType.ABORT
    assert fix["reason"] == "still_lost"
    assert fix["description_placeholders"] == {"status": "Not connected"}
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None

    fix = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
    fix = await manager.async_configure(fix["flow_id"], {"next_step_id": "dismiss"})
    assert fix["type"] is FlowResultType.CREATE_ENTRY
    assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
    assert entry.runtime_data.link.last_change is None


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
    assert issue_registry.async_get_issue(DOMAIN, f"meter_key_required_{entry.entry_id}")


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
    emulator = await emulator_factory(meter="dlms")
    emulator.store_meter_settings(
        {**emulator.meter_settings, "encryption": True, "encryption_key": emulator.config.meter_key}
    )
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
