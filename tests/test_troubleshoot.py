"""The meter link assistant: from a meter that does not talk to live data, one step at a time.

Each emulator scenario is a meter the gateway is set up wrong for (``profiles.SCENARIOS``); the
emulated gateway reads it only once its settings fit the meter's true configuration.  The
assistant is walked from the repair issue and from the options menu on a frozen clock; the
request log shows one PUT per step, and the link check reading the status after it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowManager, FlowResult, FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.whatwatt.client import MeterSettings
from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.troubleshoot import (
    Offer,
    detect_changes,
    family_changes,
    offers,
    restore_changes,
)
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_pass_time, async_setup, make_entry
from .settings_common import KEY, METER_SETTINGS_PATH, loaded, meter_writes

POWER = "sensor.whatwatt_go_9f8124_meter_power_import"
SYSTEM = "/api/v1/system"
AUTH_KEY = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
"""The authentication key of the emulated meter that uses one (not the tests' typed KEY)."""
TRANSLATIONS = Path(__file__).resolve().parent.parent / "custom_components/whatwatt/translations"
LANGUAGES = sorted(path.stem for path in TRANSLATIONS.glob("*.json"))

type Step = tuple[str, dict[str, Any] | None, dict[str, Any]]
"""A step of the assistant: the menu choice, the form input (if it asks), the PUT it makes."""

WALKS: dict[str, tuple[str, list[Step]]] = {
    "dsmr5_wrong_settings": (
        "Not connected",
        [("detect", None, {"if_type": "auto", "protocol": "auto", "auto_baudrate": True})],
    ),
    "mbus_meter": (
        "Not connected",
        [
            ("detect", None, {"if_type": "auto", "protocol": "auto", "auto_baudrate": True}),
            (
                "serial",
                {"family": "mbus"},
                {"auto_baudrate": False, "baudrate": 2400, "parity": "even"},
            ),
        ],
    ),
    "dlms_key": (
        "Encryption key required",
        [
            (
                "enter_key",
                # as grid operators print it: in groups, lower case
                {"encryption_key": "0011 2233 4455 6677 8899 aabb ccdd eeff"},
                {"encryption_key": KEY, "encryption": True},  # as the device spells it
            )
        ],
    ),
    "inverted_p1": ("No data", [("invert_rx", None, {"rx_invert": True})]),
}


@pytest.fixture(autouse=True)
async def repairs(hass: HomeAssistant) -> None:
    """The repairs integration, whose issues and fix flows the tests use."""
    assert await async_setup_component(hass, "repairs", {})


def _issue_id(entry: MockConfigEntry) -> str:
    return f"meter_not_talking_{entry.entry_id}"


def _link_issue_id(entry: MockConfigEntry) -> str:
    return f"meter_link_lost_{entry.entry_id}"


def _repairs(hass: HomeAssistant) -> FlowManager[Any, Any, Any]:
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return manager


async def _assistant(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    """Options → Troubleshoot the meter link: the first offers."""
    manager = hass.config_entries.options
    result = await manager.async_init(entry.entry_id)
    return await manager.async_configure(result["flow_id"], {"next_step_id": "troubleshoot"})


async def _scenario(emulator_factory: EmulatorFactory, scenario: str, **options: Any) -> Emulator:
    """The emulated gateway and meter of ``scenario`` (the meter's key: the one typed here)."""
    return await emulator_factory(scenario=scenario, meter_key=KEY, **options)


async def _checked(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    manager: FlowManager[Any, Any, Any],
    result: FlowResult,
) -> Any:
    """Let the link check after a step end (a second at a time); return the flow's next step."""
    assert result["type"] is FlowResultType.SHOW_PROGRESS, result
    assert result["progress_action"] == "check_step"
    flow_id = result["flow_id"]
    for _ in range(180):
        if manager.async_get(flow_id)["step_id"] != "check_link":
            return await manager.async_configure(flow_id)
        await async_pass_time(hass, freezer, 1)
    raise AssertionError("the link check did not end within 3 minutes")


def _status_read_after_the_put(emulator: Emulator) -> bool:
    """Whether the gateway's status was read after the settings were written."""
    paths = [(request.method, request.path) for request in emulator.log]
    put = paths.index(("PUT", METER_SETTINGS_PATH))
    return ("GET", SYSTEM) in paths[put + 1 :]


async def _walk(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: Emulator,
    manager: FlowManager[Any, Any, Any],
    result: FlowResult,
    steps: list[Step],
    *,
    first: str = "troubleshoot",
) -> Any:
    """Take ``steps``: each one PUT with only its fields, then the link check."""
    for number, (choice, form, sent) in enumerate(steps):
        assert result["type"] is FlowResultType.MENU, result
        assert result["step_id"] == (first if number == 0 else "still_not_talking")
        assert choice in result["menu_options"]
        assert result["menu_options"][-1] == "give_up"
        emulator.log.clear()
        result = await manager.async_configure(result["flow_id"], {"next_step_id": choice})
        if form is not None:
            assert result["type"] is FlowResultType.FORM
            assert result["step_id"] == choice
            assert meter_writes(emulator) == []  # nothing is sent before the form is
            result = await manager.async_configure(result["flow_id"], form)
        assert meter_writes(emulator) == [("PUT", sent)]
        result = await _checked(hass, freezer, manager, result)
        assert _status_read_after_the_put(emulator)
        assert meter_writes(emulator) == [("PUT", sent)]  # and nothing else
    return result


def _talks(hass: HomeAssistant, result: FlowResult) -> None:
    """The flow ends saying the meter talks, and its values arrive."""
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == "link_working"
    assert result["description_placeholders"]["status"] == "OK"
    state = hass.states.get(POWER)
    assert state is not None
    assert state.state != STATE_UNAVAILABLE


@pytest.mark.parametrize("scenario", list(WALKS))
async def test_the_repair_walks_each_meter_to_live_data(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
    scenario: str,
) -> None:
    """The repair issue (after 10 minutes; at once for a key) opens the assistant, which
    shows the status in words and the settings, and gets the meter talking; the issue goes."""
    caplog.set_level(logging.DEBUG)
    status, steps = WALKS[scenario]
    emulator = await _scenario(emulator_factory, scenario)
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        await async_pass_time(hass, freezer, 600, step=60)
        issue = issue_registry.async_get_issue(DOMAIN, _issue_id(entry))
        assert issue is not None
        assert issue.is_fixable
        assert issue.translation_placeholders == {"name": "whatwatt Go 9F8124", "status": status}
        manager = _repairs(hass)
        result = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
        assert result["description_placeholders"]["status"] == status
        assert "- Interface type: " in result["description_placeholders"]["settings"]
        assert result["description_placeholders"]["meaning"]
        result = await _walk(hass, freezer, emulator, manager, result, steps)
        _talks(hass, result)
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
        assert issue_registry.async_get_issue(DOMAIN, _link_issue_id(entry)) is None
        assert entry.runtime_data.link.last_change is None
    assert KEY not in caplog.text
    assert KEY.lower() not in caplog.text


@pytest.mark.parametrize("scenario", list(WALKS))
async def test_the_options_walk_each_meter_to_live_data(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    scenario: str,
) -> None:
    """Options → Troubleshoot the meter link: the same steps, at any time (no issue needed)."""
    emulator = await _scenario(emulator_factory, scenario)
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await manager.async_init(entry.entry_id)
        assert "troubleshoot" in result["menu_options"]
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "troubleshoot"})
        assert result["description_placeholders"]["status"] == WALKS[scenario][0]
        result = await _walk(hass, freezer, emulator, manager, result, WALKS[scenario][1])
        _talks(hass, result)
        assert entry.options == {}  # nothing about the link is stored in the entry


async def test_a_change_made_in_the_gateways_web_page_is_walked_back_to_live_data(
    hass: HomeAssistant,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Someone sets the gateway up wrong in its own web page, minutes before the next poll of
    the settings: the assistant reads what the device has (the setting entities show it too),
    so detection is one PUT of what differs, checked, and the meter talks."""
    async with loaded(hass, emulator, [Platform.SENSOR, Platform.SELECT]) as entry:
        wrong = {"if_type": "mbus", "protocol": "hdlc", "auto_baudrate": False, "baudrate": 9600}
        emulator.store_meter_settings({**emulator.meter_settings, **wrong})
        await async_pass_time(hass, freezer, 60, step=5)
        assert hass.states.get(POWER).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
        manager = hass.config_entries.options
        result = await _assistant(hass, entry)
        assert result["description_placeholders"]["status"] == "Not connected"
        state = hass.states.get("select.whatwatt_go_9f8124_interface_type")
        assert state is not None
        assert state.state == "mbus"
        result = await _walk(
            hass,
            freezer,
            emulator,
            manager,
            result,
            [("detect", None, {"if_type": "auto", "protocol": "auto", "auto_baudrate": True})],
        )
        _talks(hass, result)


async def test_nothing_worked_puts_back_the_settings_from_before_in_one_put(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Two steps that do not help, then *Nothing worked*: one PUT of exactly the fields the
    steps changed, back to what they were; the flow says what the gateway reports and links
    to its web page; no change of ours is left in question (no link-lost issue)."""
    emulator = await _scenario(emulator_factory, "mbus_meter")
    before = dict(emulator.meter_settings)
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await _assistant(hass, entry)
        detect = {"if_type": "auto", "protocol": "auto", "auto_baudrate": True}
        invert = {"rx_invert": True}
        result = await _walk(
            hass,
            freezer,
            emulator,
            manager,
            result,
            [("detect", None, detect), ("invert_rx", None, invert)],
        )
        assert result["step_id"] == "still_not_talking"
        assert result["menu_options"] == ["invert_rx", "serial", "give_up"]
        # a step the first dialog did not offer is explained where it is offered
        for dialog in _first_dialogs("en", result, "still_not_talking"):
            _explains_in_order("en", dialog, result["menu_options"])
        emulator.log.clear()
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "give_up"})
        assert meter_writes(emulator) == [
            (
                "PUT",
                {"if_type": "p1", "protocol": "dsmr", "auto_baudrate": False, "rx_invert": False},
            )
        ]
        assert emulator.meter_settings == before
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "gave_up"
        placeholders = result["description_placeholders"]
        assert placeholders["status"] == "Not connected"
        assert placeholders["url"] == f"http://127.0.0.1:{emulator.port}/"
        assert "- Interface type: P1" in placeholders["settings"]
        link = entry.runtime_data.link
        assert link.last_change is None
        assert not link.checking
        assert issue_registry.async_get_issue(DOMAIN, _link_issue_id(entry)) is None
        # The meter still does not talk: the issue offers the assistant again after its wait.
        await async_pass_time(hass, freezer, 540, step=60)
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
        await async_pass_time(hass, freezer, 60)
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None


def _texts(language: str) -> dict[str, Any]:
    texts: dict[str, Any] = json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))
    return texts


def _first_dialogs(language: str, result: FlowResult, step_id: str = "troubleshoot") -> list[str]:
    """The first dialog's text (or ``step_id``'s) as the frontend shows it, from the options
    and from the repair: the description in ``language``, filled in with the placeholders."""
    texts = _texts(language)
    repair = texts["issues"]["meter_not_talking"]["fix_flow"]["step"][step_id]
    placeholders = result["description_placeholders"]
    return [
        texts["options"]["step"][step_id]["description"].format(**placeholders),
        repair["description"].format(**placeholders),
    ]


def _explained(language: str) -> dict[str, str]:
    """Each step's explanation in ``language``, as the menus show it."""
    explained: dict[str, str] = _texts(language)["selector"]["troubleshoot_step"]["options"]
    return explained


def _explains_in_order(language: str, dialog: str, steps: list[str]) -> None:
    """``dialog`` explains each of ``steps``, in their order."""
    where = [dialog.find(_explained(language)[step]) for step in steps]
    assert -1 not in where, dialog
    assert where == sorted(where)


async def test_the_first_dialog_explains_only_the_steps_offered(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """A meter not found behind fixed settings: detection and *Nothing worked* are offered, and
    the dialog explains just those two, not the key, the receive line or a meter family."""
    emulator = await _scenario(emulator_factory, "dsmr5_wrong_settings")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        result = await _assistant(hass, entry)
        assert result["menu_options"] == ["detect", "give_up"]
        for dialog in _first_dialogs("en", result):
            assert "- *Let the gateway detect the meter*: interface type" in dialog
            assert dialog.endswith(
                "\n\n*Nothing worked* puts back the settings you had when you opened the assistant."
            )
            for absent in ("meter's key", "receive line", "meter family"):
                assert absent not in dialog


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_first_dialog_explains_every_step_offered_in_their_order(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, language: str
) -> None:
    """No data from a meter polled although it pushes: detection, the receive line, a meter
    family and *Nothing worked*, each explained in the menu's order, in the user's language."""
    await hass.config.async_update(language=language)
    emulator = await _scenario(emulator_factory, "inverted_p1")
    emulator.store_meter_settings({**emulator.meter_settings, "if_mode": "pull"})
    emulator.set_meter_status("NO DATA")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        result = await _assistant(hass, entry)
        steps = ["detect", "invert_rx", "serial", "give_up"]
        assert result["menu_options"] == steps
        for dialog in _first_dialogs(language, result):
            _explains_in_order(language, dialog, steps)
            assert _explained(language)["enter_key"] not in dialog


async def test_the_key_step_asks_for_the_authentication_key_when_the_meter_uses_one(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A meter that also authenticates: both keys in one PUT; a bad key is refused before
    anything is sent, and no key is put back into the form."""
    emulator = await _scenario(emulator_factory, "dlms_key", meter_auth_key=AUTH_KEY)
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await _assistant(hass, entry)
        assert result["menu_options"] == ["enter_key", "give_up"]
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "enter_key"})
        fields = [str(key) for key in result["data_schema"].schema]
        assert fields == ["encryption_key", "authentication_key"]
        result = await manager.async_configure(result["flow_id"], {})
        assert result["errors"] == {"base": "key_missing"}
        result = await manager.async_configure(
            result["flow_id"], {"encryption_key": KEY, "authentication_key": "12345"}
        )
        assert result["errors"] == {"authentication_key": "invalid_key"}
        assert result["description_placeholders"]["field"] == "Authentication key"
        assert KEY not in str(result)
        assert meter_writes(emulator) == []
        result = await manager.async_configure(
            result["flow_id"], {"encryption_key": KEY, "authentication_key": AUTH_KEY}
        )
        assert meter_writes(emulator) == [
            ("PUT", {"encryption_key": KEY, "authentication_key": AUTH_KEY, "encryption": True})
        ]
        result = await _checked(hass, freezer, manager, result)
        _talks(hass, result)
        assert KEY not in str(result)


async def test_a_key_that_is_still_wrong_offers_the_key_again(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A typo in the key: the meter says the key is wrong, and the assistant asks again (a
    link-lost issue follows the change meanwhile, the only link issue)."""
    emulator = await _scenario(emulator_factory, "dlms_key")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = _repairs(hass)
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None  # at once
        result = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
        wrong = "F" * 32
        result = await _walk(
            hass,
            freezer,
            emulator,
            manager,
            result,
            [
                (
                    "enter_key",
                    {"encryption_key": wrong},
                    {"encryption_key": wrong, "encryption": True},
                )
            ],
        )
        assert result["step_id"] == "still_not_talking"
        assert result["description_placeholders"]["status"] == "Wrong encryption key"
        assert result["menu_options"] == ["enter_key", "give_up"]
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
        assert issue_registry.async_get_issue(DOMAIN, _link_issue_id(entry)) is not None
        result = await _walk(
            hass,
            freezer,
            emulator,
            manager,
            result,
            [("enter_key", {"encryption_key": KEY}, {"encryption_key": KEY})],
            first="still_not_talking",
        )
        _talks(hass, result)
        assert issue_registry.async_get_issue(DOMAIN, _link_issue_id(entry)) is None


async def test_a_family_already_in_use_is_refused_before_anything_is_sent(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """DSMR 4/5 did not help an inverted line; chosen again, there is nothing to send: the
    form says so on the field, and the device gets nothing."""
    emulator = await _scenario(emulator_factory, "inverted_p1")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await _assistant(hass, entry)
        assert result["menu_options"] == ["invert_rx", "serial", "give_up"]
        family = {"family": "dsmr_4_5"}
        result = await _walk(
            hass, freezer, emulator, manager, result, [("serial", family, {"auto_baudrate": False})]
        )
        assert result["step_id"] == "still_not_talking"
        emulator.log.clear()
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "serial"})
        result = await manager.async_configure(result["flow_id"], family)
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"family": "family_in_use"}
        assert meter_writes(emulator) == []


async def test_a_meter_that_talks_needs_no_assistant(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """Opened while the status is OK, the assistant says so and changes nothing."""
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        result = await _assistant(hass, entry)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "link_working"
        assert meter_writes(emulator) == []


async def test_a_gateway_that_cannot_be_read_ends_the_assistant_with_the_reason(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """The settings cannot be read: the flow ends saying so, nothing is sent."""
    emulator = await _scenario(emulator_factory, "inverted_p1")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await manager.async_init(entry.entry_id)
        emulator.faults.fail_next(status=500)
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "troubleshoot"})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "device_rejected"
        assert meter_writes(emulator) == []


async def test_the_issue_waits_ten_minutes_and_withdraws_once_the_meter_talks(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Not OK for 9 minutes 59: no issue; at 10 minutes: the issue; OK again: gone.  The
    diagnostics say since when."""
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        emulator.set_meter_status("NO DATA")
        await entry.runtime_data.system.async_refresh()
        since = dt_util.utcnow().isoformat()
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert diagnostics["meter_link"]["not_ok_since"] == since
        await async_pass_time(hass, freezer, 599, step=60)
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
        await async_pass_time(hass, freezer, 1)
        issue = issue_registry.async_get_issue(DOMAIN, _issue_id(entry))
        assert issue is not None
        assert issue.translation_placeholders == {"name": "whatwatt Go 9F8124", "status": "No data"}
        emulator.set_meter_status(None)
        await async_pass_time(hass, freezer, 60, step=1)
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert diagnostics["meter_link"]["not_ok_since"] is None


async def test_no_issue_while_a_change_of_ours_is_in_question(
    hass: HomeAssistant,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A change of ours cut the link: its own issue only, however long; once the user keeps
    the change, the "not talking" issue follows after its full 10 minutes."""
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        link = entry.runtime_data.link
        await link.async_write({"if_type": "mbus"})
        for _ in range(20):
            await async_pass_time(hass, freezer, 60, step=5)
            assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
        assert issue_registry.async_get_issue(DOMAIN, _link_issue_id(entry)) is not None
        link.async_forget()  # the user keeps the change
        assert issue_registry.async_get_issue(DOMAIN, _link_issue_id(entry)) is None
        await async_pass_time(hass, freezer, 599, step=60)
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None
        await async_pass_time(hass, freezer, 1)
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is not None
        # A new change of ours: its check, not the old issue, speaks for the link now.
        await link.async_write({"if_type": "auto"})
        assert issue_registry.async_get_issue(DOMAIN, _issue_id(entry)) is None


async def test_the_repair_of_an_unloaded_entry_aborts(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The issue's entry is gone before the fix flow starts: the flow says why."""
    emulator = await _scenario(emulator_factory, "dlms_key")
    entry = await async_setup(hass, make_entry(emulator))
    manager = _repairs(hass)
    result = await manager.async_init(DOMAIN, data={"issue_id": _issue_id(entry)})
    assert result["type"] is FlowResultType.MENU
    await hass.config_entries.async_unload(entry.entry_id)
    result = await manager.async_configure(result["flow_id"], {"next_step_id": "enter_key"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"


async def test_a_step_the_gateway_refuses_is_said_and_nothing_is_checked(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """The PUT of a step fails: a form step shows the error on its form (the key is not put
    back), a menu step ends the assistant with the reason; no check runs, nothing is kept."""
    emulator = await _scenario(emulator_factory, "dlms_key")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await _assistant(hass, entry)
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "enter_key"})
        emulator.faults.fail_next(status=500)
        result = await manager.async_configure(result["flow_id"], {"encryption_key": KEY})
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "enter_key"
        assert result["errors"] == {"base": "device_rejected"}
        assert KEY not in str(result)
        assert entry.runtime_data.link.last_change is None
        assert not entry.runtime_data.link.checking
    emulator = await _scenario(emulator_factory, "inverted_p1")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await _assistant(hass, entry)
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "serial"})
        emulator.faults.fail_next(status=500)
        result = await manager.async_configure(result["flow_id"], {"family": "mbus"})
        assert result["step_id"] == "serial"
        assert result["errors"] == {"base": "device_rejected"}
        emulator.faults.fail_next(status=500)
        result = await manager.async_configure(result["flow_id"], {"family": "dsmr_4_5"})
        assert result["errors"] == {"base": "device_rejected"}
        result = await _assistant(hass, entry)
        emulator.faults.fail_next(status=500)
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "invert_rx"})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "device_rejected"
        assert entry.runtime_data.link.last_change is None


async def test_a_restore_the_gateway_does_not_apply_is_not_reported_as_done(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """*Nothing worked*, and the gateway keeps a value: the assistant says which, and does not
    say the settings are back."""
    emulator = await _scenario(emulator_factory, "inverted_p1")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await _assistant(hass, entry)
        result = await _walk(
            hass,
            freezer,
            emulator,
            manager,
            result,
            [("serial", {"family": "dsmr_2_3"}, {"auto_baudrate": False, "baudrate": 9600,
                                                 "parity": "even"})],
        )  # fmt: skip
        store = emulator.store_meter_settings
        monkeypatch.setattr(
            emulator, "store_meter_settings", lambda values: store({**values, "parity": "odd"})
        )
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "give_up"})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "setting_not_applied"
        assert result["description_placeholders"]["field"] == "Parity"
        assert entry.runtime_data.link.last_change is None  # a restore is not checked
        assert not entry.runtime_data.link.checking


async def test_a_reload_during_a_steps_check_ends_the_assistant_saying_so(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """The entry reloads while a step is checked: the assistant says the check stopped (the
    change is kept and checked again by the entry)."""
    emulator = await _scenario(emulator_factory, "inverted_p1")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        result = await _assistant(hass, entry)
        result = await manager.async_configure(result["flow_id"], {"next_step_id": "invert_rx"})
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        result = await manager.async_configure(result["flow_id"])
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "check_interrupted"


# --- the pure rules ---------------------------------------------------------------------------


def _settings(**values: Any) -> MeterSettings:
    defaults = {"if_type": "auto", "protocol": "auto", "if_mode": "auto", "auto_baudrate": True,
                "baudrate": 115200, "parity": "none", "stop_bits": "1", "rx_invert": False,
                "encryption": False}  # fmt: skip
    return MeterSettings.from_dict({**defaults, **values})


@pytest.mark.parametrize(
    ("status", "settings", "expected"),
    [
        ("OK", _settings(if_type="p1"), []),
        ("KEY REQUIRED", _settings(if_type="p1"), [Offer.ENTER_KEY, Offer.GIVE_UP]),
        ("ENCRYPTION KEY", _settings(), [Offer.ENTER_KEY, Offer.GIVE_UP]),
        ("NOT CONNECTED", _settings(if_type="mbus"), [Offer.DETECT, Offer.GIVE_UP]),
        ("NOT CONNECTED", _settings(auto_baudrate=False), [Offer.DETECT, Offer.GIVE_UP]),
        ("NOT RECOGNIZED", _settings(), [Offer.INVERT_RX, Offer.SERIAL, Offer.GIVE_UP]),
        (None, _settings(protocol="dsmr"), [Offer.DETECT, Offer.GIVE_UP]),
        ("NO DATA", _settings(), [Offer.INVERT_RX, Offer.SERIAL, Offer.GIVE_UP]),
        ("RECOGNITION", _settings(rx_invert=True), [Offer.INVERT_RX, Offer.SERIAL, Offer.GIVE_UP]),
        (
            "NO DATA",
            _settings(if_mode="pull"),
            [Offer.DETECT, Offer.INVERT_RX, Offer.SERIAL, Offer.GIVE_UP],
        ),
        (
            "NO DATA",
            _settings(auto_baudrate=False),
            [Offer.INVERT_RX, Offer.SERIAL, Offer.DETECT, Offer.GIVE_UP],
        ),
    ],
)
def test_the_step_offered_fits_the_status(
    status: str | None, settings: MeterSettings, expected: list[Offer]
) -> None:
    """A key for a key status; for a meter not found, detection while something is not
    automatic, then the line; for one that sends nothing readable, the line, with detection
    first when the interface is fixed; giving up always last (nothing while OK)."""
    assert offers(status, settings) == expected


def test_each_step_changes_only_what_differs() -> None:
    """Detection and a family send only the fields the device has otherwise; the restore
    puts back exactly the readable fields that moved, never a key."""
    now = _settings(if_type="p1", auto_baudrate=False, baudrate=2400, parity="even")
    assert detect_changes(now) == {"if_type": "auto", "auto_baudrate": True}
    assert family_changes(now, "mbus") == {}
    assert family_changes(now, "dsmr_2_3") == {"baudrate": 9600}
    assert family_changes(now, "dsmr_4_5") == {"baudrate": 115200, "parity": "none"}
    original = _settings(if_type="mbus", rx_invert=True)
    assert restore_changes(now, original) == {
        "if_type": "mbus",
        "auto_baudrate": True,
        "baudrate": 115200,
        "parity": "none",
        "rx_invert": True,
    }
