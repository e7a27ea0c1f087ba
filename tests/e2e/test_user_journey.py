"""A user's whole journey with a whatwatt Go, in a real Home Assistant and a real browser.

Each step saves screenshots to artifacts/e2e/ and records itself as done; a step that builds on
an earlier one which did not pass is skipped with that reason (the failing step is the one to
look at).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
import json
import math
import re
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("playwright.sync_api", reason="e2e needs Playwright (scripts/setup-e2e)")

from playwright.sync_api import expect

from scripts.devtools import haapi
from whatwatt_emulator.profiles import SCENARIOS

from .conftest import World
from .harness import (
    ARTIFACTS,
    DEMAND_WINDOW,
    DISCOVERY,
    GAS_FLOW,
    LINK_CHECK,
    LIVE_CHANGE,
    NOT_TALKING,
    STATISTICS,
    STEP_LIMIT,
    EmulatorAdmin,
    device_put,
    entity_row_value,
    shown_texts,
    wait_dialog_closed,
    wait_for,
    waiting_for,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(STEP_LIMIT)]

DEVICE = "whatwatt Go 9F8124"  # the emulator's default device id A842E39F8124
METER = f"{DEVICE} meter"
# The owner's home, as in config/configuration.yaml.  Onboarding proposes the browser's country
# (en-US: the United States) and sets HA's units from it: US customary units would show the gas
# meter's reading (step 8) in ft³, converted by HA.  Switzerland: metric, m³ as the meter counts.
HOME_COUNTRY = "Switzerland"
SETTINGS_PATH = "/api/v1/meter/settings"


def emulator_admin(world: World) -> EmulatorAdmin:
    """The running emulator's admin API; fail the step (naming why) if it did not start."""
    if world.emulator is None:
        pytest.fail(f"the emulator did not start: {world.emulator_error}")
    return EmulatorAdmin(world.emulator.url)


def open_meter_settings_form(world: World) -> None:
    """Integration page -> Configure (cog) -> "Edit settings": the options form."""
    page = world.page
    page.goto(world.hass.url + "/config/integrations/integration/whatwatt", wait_until="load")
    page.get_by_role("button", name="Configure").click()
    dialog = page.locator("dialog-data-entry-flow")
    dialog.get_by_text("Edit settings").click()
    dialog.get_by_text("Baud rate").first.wait_for()


def open_meter_device_page(world: World) -> None:
    """Integration page -> the meter device: its page, with the Power import row."""
    page = world.page
    page.goto(world.hass.url + "/config/integrations/integration/whatwatt", wait_until="load")
    page.get_by_text(METER, exact=True).click()
    page.wait_for_url(re.compile(r"/config/devices/device/"))
    page.get_by_text("Power import", exact=True).wait_for()


def shown_power(page: Page) -> str:
    """Wait for the device page's Power import row to show a power, and return it."""
    value = wait_for("a Power import value", lambda: entity_row_value(page, "Power import"))
    assert re.fullmatch(r"[\d.,]+\s*k?W", value), f"Power import shows {value!r}, not a power"
    return value


def shown_power_change(page: Page, first: str) -> str:
    """Wait for the device page's Power import row to show something other than `first`."""
    return wait_for(
        f"Power import to change from {first}",
        lambda: (v := entity_row_value(page, "Power import")) != first and v,
        timeout=LIVE_CHANGE,
    )


def choose_country(page: Page, picker: Locator, name: str) -> None:
    """Choose `name` in an HA country picker: open it, search, pick; wait until it shows it."""
    picker.click()
    page.get_by_placeholder("Search").fill(name)
    page.get_by_text(name, exact=True).first.click()  # the list item (name, code below)
    expect(picker).to_contain_text(name)


def test_step1_owner_completes_onboarding_in_the_browser(step: World) -> None:
    """Step 1: a fresh Home Assistant; the owner account is created through the onboarding pages."""
    page, base = step.page, step.hass.url
    page.goto(base + "/", wait_until="load")
    page.wait_for_url(re.compile(r"/onboarding"))
    page.get_by_role("button", name="Create my smart home").click()
    page.locator('input[name="name"]').fill("Developer")
    page.locator('input[name="username"]').fill(haapi.DEV_USER)
    page.locator('input[name="password"]').fill(haapi.DEV_PASSWORD)
    page.locator('input[name="password_confirm"]').fill(haapi.DEV_PASSWORD)
    step.screens.shot("step1-onboarding-user")
    page.get_by_role("button", name="Create account").click()
    # then: home location, country, analytics ("Next" each, defaults kept), "All set" (Finish)
    next_or_finish = page.get_by_role("button", name=re.compile(r"^(Next|Finish)$"))
    for number in range(1, 9):
        next_or_finish.or_(page.locator("ha-sidebar")).first.wait_for()
        if "/onboarding" not in page.url:
            break
        country = page.locator("ha-country-picker")
        # attached with its page's Next button, but its code may load a moment later (until
        # then it has no size: on a busy machine "visible" was false and the default country
        # stayed)
        if country.count():
            country.wait_for(state="visible")
            choose_country(page, country, HOME_COUNTRY)
        step.screens.shot(f"step1-onboarding-page{number}")
        leaves = page.get_by_role("button", name="Finish").is_visible()  # the last page
        button = next_or_finish.first.element_handle()
        button.click()
        # on to the next page only once this one has gone (its button with it), so that a slow
        # page is never photographed or clicked twice
        with waiting_for(f"onboarding page {number} to give way to the next"):
            if leaves:
                page.wait_for_url(lambda url: "/onboarding" not in url)
            else:
                button.wait_for_element_state("hidden")
    page.locator("ha-sidebar").wait_for(state="visible")
    assert "/onboarding" not in page.url, page.url
    # The test's own API session, as the user just created (the password is the proof).
    step.api = haapi.login(base)
    # the country chosen: Switzerland, metric units (HA converts nothing the meter counts in m³)
    core = step.api.get("/api/config")
    units = core["unit_system"]
    assert (core["country"], units["volume"], units["length"]) == ("CH", "L", "km"), core
    # HA moved configuration.yaml's `http:` into its storage as a change to confirm (it would
    # revert it and restart after 5 minutes otherwise).  The frontend asks HA for it once it
    # has started, and shows a dialog if a change is pending (and has not failed): ask HA the
    # same, then the owner confirms it in that dialog, as a user would.
    (http_config,) = step.api.ws({"type": "http/config"})
    if (pending := http_config.get("pending")) and not pending.get("error"):
        http_dialog = page.get_by_text("Confirm new HTTP server configuration")
        http_dialog.wait_for()
        step.screens.shot("step1-confirm-http-config")
        page.get_by_role("button", name="Confirm", exact=True).click()
        http_dialog.wait_for(state="hidden")
        wait_dialog_closed(page, "the HTTP configuration dialog")
    # Onboarding set up met.no, radio browser, google translate and a shopping list: they need
    # the internet, which the namespace does not have; remove them so the pages show our device.
    haapi.drop_onboarding_entries(step.api)
    page.goto(base + "/", wait_until="load")
    page.locator("ha-sidebar").wait_for(state="visible")
    page.get_by_text("Welcome Developer").wait_for(state="visible")
    step.screens.shot("step1-home")


def test_step2_discovered_device_is_added_with_its_password(step: World) -> None:
    """Step 2: the whatwatt Go found over mDNS shows under "Discovered"; Add, password, done."""
    step.need("step1")
    emulator_admin(step)
    page = step.page
    page.goto(step.hass.url + "/config/integrations/dashboard", wait_until="load")
    card = page.locator("ha-config-flow-card").filter(has_text=DEVICE)
    card.wait_for(timeout=DISCOVERY * 1000)  # mDNS discovery needs a few seconds after HA starts
    page.get_by_text("Discovered").first.wait_for()
    step.screens.shot("step2-discovered")
    card.get_by_role("button", name="Add").click()
    dialog = page.locator("dialog-data-entry-flow")
    dialog.get_by_text("10.77.0.2").first.wait_for()  # the confirm form names the device's address
    dialog.locator('input[type="password"]').fill(step.emulator.password)  # type: ignore[union-attr]
    step.screens.shot("step2-password")
    dialog.get_by_role("button", name="Submit").click()
    finish = dialog.get_by_role("button", name=re.compile(r"finish", re.IGNORECASE))
    finish.wait_for()

    def both_devices_listed() -> bool:
        # "Name and assign" lists both devices: the gateway and the meter behind it
        names = dialog.locator("input").evaluate_all("(els) => els.map((e) => e.value)")
        assert DEVICE in names, names
        assert METER in names, names
        return True

    # the list fills in as the device registry reaches the frontend, after Finish shows
    wait_for("both devices listed to name and assign", both_devices_listed)
    step.screens.shot("step2-added")
    finish.click()
    wait_dialog_closed(page, "the add-device dialog")
    assert step.api is not None
    entries = step.api.entries("whatwatt")
    assert [(e["title"], e["state"]) for e in entries] == [(DEVICE, "loaded")], entries


def test_step3_device_page_shows_live_power_changing(step: World) -> None:
    """Step 3: from the integration page to the meter device; its power reading changes live."""
    step.need("step2")
    page = step.page
    open_meter_device_page(step)
    first = shown_power(page)
    step.screens.shot("step3-device-power")
    later = shown_power_change(page, first)
    step.screens.shot("step3-device-power-changed")
    assert later != first


def test_step4_options_flow_sends_only_the_changed_fields(step: World) -> None:
    """Step 4: change baud rate and receive buffer in the options; one PUT with exactly those two.

    Serial settings the link survives: the gateway detects the meter's baud rate itself
    (automatic detection stays on), and the buffer is the gateway's own.  Still, a serial
    change asks for a confirmation first.  (Parity is not changed: the emulated DSMR meter
    sends 8N1 and the emulator, since issue 20, takes a parity change for a cut link.)
    """
    step.need("step2")
    admin = emulator_admin(step)
    before = admin.state()["meter_settings"]
    assert (before["baudrate"], before["buffer_size"]) == (115200, 64), before
    admin.clear_log()
    open_meter_settings_form(step)
    page = step.page
    dialog = page.locator("dialog-data-entry-flow")
    baud = dialog.get_by_role("spinbutton").first  # the form's first field: Baud rate
    assert baud.input_value() == "115200"  # the form opens on what the device reports
    baud.fill("9600")
    buffer = dialog.get_by_role("spinbutton", name="Receive buffer size")
    assert buffer.input_value() == "64"
    buffer.fill("128")
    step.screens.shot("step4-options-form")
    assert admin.requests(method="PUT") == [], "something was sent before Submit"
    dialog.get_by_role("button", name="Submit").click()
    # serial changes can cut the meter link: the flow lists them and asks to confirm
    dialog.get_by_text("Confirm changes").first.wait_for()
    step.screens.shot("step4-options-confirm")
    dialog.get_by_role("button", name="Submit").click()
    dialog.get_by_text("Options successfully saved").wait_for()
    step.screens.shot("step4-options-saved")
    dialog.get_by_role("button", name="Finish").click()
    wait_dialog_closed(page, "the options dialog")
    writes = [r for r in admin.requests() if r["method"] in ("PUT", "POST")]
    assert len(writes) == 1, f"expected one write, the emulator saw {writes}"
    (put,) = writes
    assert (put["method"], put["path"], put["status"]) == ("PUT", SETTINGS_PATH, 200), put
    assert put["body"] == {"baudrate": 9600, "buffer_size": 128}, put["body"]
    after = admin.state()["meter_settings"]
    assert (after["baudrate"], after["buffer_size"]) == (9600, 128)
    step.facts["settings_changed"] = True


def test_step5_invalid_encryption_key_shows_field_error_and_sends_nothing(step: World) -> None:
    """Step 5: a malformed encryption key gets a translated error; nothing reaches the device."""
    step.need("step2")
    admin = emulator_admin(step)
    open_meter_settings_form(step)
    admin.clear_log()  # opening the form reads the settings (GET); count from here
    page = step.page
    dialog = page.locator("dialog-data-entry-flow")
    dialog.locator('input[name="encryption_key"]').fill("not-a-key")
    dialog.get_by_role("button", name="Submit").click()
    error = dialog.get_by_text("a key is exactly 32 hexadecimal characters")
    error.first.wait_for()
    error.first.scroll_into_view_if_needed()
    step.screens.shot("step5-invalid-key-error")
    assert error.first.inner_text().startswith("Encryption key:")
    assert admin.requests() == [], "the device got a request for an invalid key"
    assert "not-a-key" not in step.hass.log_text()
    dialog.get_by_role("button", name="Close").or_(
        dialog.locator("ha-icon-button").first
    ).first.click()
    wait_dialog_closed(page, "the options dialog")


def test_step6_get_meter_settings_action_shows_the_response(step: World) -> None:
    """Step 6: Developer tools -> Actions -> whatwatt.get_meter_settings shows the settings."""
    step.need("step2")
    page = step.page
    page.goto(step.hass.url + "/developer-tools/action", wait_until="load")
    page.locator("ha-service-picker").click()
    # fill the picker's own search box (keys typed into the page are HA's shortcuts)
    page.get_by_placeholder("Search").fill("Get meter settings")
    page.get_by_text("whatwatt.get_meter_settings").first.click()
    page.get_by_role("button", name="Perform action").click()
    page.get_by_text("Response", exact=True).wait_for()
    expected = "baudrate: 9600" if step.facts.get("settings_changed") else "baudrate: 115200"
    line = page.get_by_text(expected, exact=True)
    line.first.wait_for()
    line.first.scroll_into_view_if_needed()
    step.screens.shot("step6-action-response")
    if step.facts.get("settings_changed"):
        page.get_by_text("buffer_size: 128", exact=True).first.wait_for()


def settings_writes(admin: EmulatorAdmin) -> list[dict[str, object]]:
    """The writes (PUT, POST) the emulator saw since its log was last cleared."""
    return [r for r in admin.requests() if r["method"] in ("PUT", "POST")]


def link_issue(world: World, entry_id: str) -> dict[str, Any] | None:
    """The integration's "meter link lost" repair issue of `entry_id`, if HA lists it."""
    assert world.api is not None
    issue_id = f"meter_link_lost_{entry_id}"
    found = [i for i in haapi.repair_issues(world.api, "whatwatt") if i["issue_id"] == issue_id]
    return found[0] if found else None


def power_import_state(world: World) -> dict[str, Any]:
    """HA's state of the meter's Power import sensor (found by its name, as the user sees it)."""
    assert world.api is not None
    name = f"{METER} Power import"
    states: list[dict[str, Any]] = world.api.get("/api/states")
    found = [s for s in states if s["attributes"].get("friendly_name") == name]
    assert len(found) == 1, f"{len(found)} entities named {name!r}"
    return found[0]


def test_step7_wrong_interface_type_cuts_the_link_and_undo_restores_it(step: World) -> None:
    """Step 7: "Interface type" fixed to M-Bus on a P1 meter: link lost; Undo brings it back.

    The emulated meter is DSMR (P1): the gateway then reports NOT CONNECTED and sends no data.
    After the confirmation, the flow checks the link (a progress step: the status read at once
    and 5 s later, the same non-OK status twice is lost) and shows the link-lost menu, while a
    repair issue says the same.  Undo sends one PUT of the previous value and checks again; the
    flow ends, the issue goes and the power readings come back.
    """
    step.need("step2")
    admin = emulator_admin(step)
    assert step.api is not None
    (entry,) = step.api.entries("whatwatt")
    entry_id = entry["entry_id"]
    before = admin.state()
    assert (before["meter_settings"]["if_type"], before["meter_status"]) == ("auto", "OK"), before
    assert link_issue(step, entry_id) is None, "a link-lost issue before the link was cut"
    open_meter_settings_form(step)
    admin.clear_log()  # opening the form reads the settings (GET); count from here
    page = step.page
    dialog = page.locator("dialog-data-entry-flow")
    interface_type = dialog.get_by_label("Interface type", exact=True)
    interface_type.click()
    page.get_by_role("menuitem", name="M-Bus", exact=True).click()
    page.get_by_role("menuitem", name="M-Bus", exact=True).wait_for(state="hidden")  # menu closed
    interface_type.scroll_into_view_if_needed()
    step.screens.shot("step7-interface-type-mbus")
    dialog.get_by_role("button", name="Submit").click()
    # a fixed interface type can cut the meter link: the flow lists it and asks to confirm
    dialog.get_by_text("Confirm changes").first.wait_for()
    dialog.get_by_text("Interface type").first.wait_for()
    step.screens.shot("step7-confirm")
    assert settings_writes(admin) == [], "something was sent before the confirmation"
    dialog.get_by_role("button", name="Submit").click()

    checking = dialog.get_by_text("Checking that the meter still talks to the gateway")
    lost = dialog.get_by_text("The meter stopped talking to the gateway")
    with waiting_for("the link check to start (progress) or to end (link lost)"):
        checking.or_(lost).first.wait_for(timeout=LINK_CHECK * 1000)
    step.screens.shot_if("step7-checking-link", checking)  # only if still there: not waited for
    with waiting_for("the link check to find the link lost"):
        lost.wait_for(timeout=LINK_CHECK * 1000)
    dialog.get_by_text("Not connected", exact=True).wait_for()
    dialog.get_by_text("Interface type: Automatic → M-Bus").wait_for()
    options = dialog.locator("step-flow-menu ha-list-item")  # the menu's options, in order
    expect(options).to_have_text(["Undo the change", "Edit again", "Keep it as it is"])
    step.screens.shot("step7-link-lost")
    writes = settings_writes(admin)
    assert len(writes) == 1, f"expected one write, the emulator saw {writes}"
    (put,) = writes
    assert (put["method"], put["path"], put["status"]) == ("PUT", SETTINGS_PATH, 200), put
    assert put["body"] == {"if_type": "mbus"}, put["body"]
    cut = admin.state()
    assert (cut["meter_settings"]["if_type"], cut["meter_status"]) == ("mbus", "NOT CONNECTED")
    # the flow shows the menu only once the check has raised the issue
    issue = link_issue(step, entry_id)
    assert issue is not None, "no meter_link_lost repair issue while the link is lost"
    assert issue["is_fixable"], issue
    placeholders = issue["translation_placeholders"]
    assert placeholders["status"] == "Not connected", placeholders
    assert placeholders["changes"] == "- Interface type: Automatic → M-Bus", placeholders

    power_at_undo = power_import_state(step)
    admin.clear_log()
    options.filter(has_text="Undo the change").click()
    # the menu first, or the waits below would see it still there and take it for the answer
    with waiting_for("the link-lost menu to give way after Undo"):
        lost.wait_for(state="hidden")
    saved = dialog.get_by_text("Options successfully saved")
    with waiting_for("the check after the undo to start (progress) or to end"):
        checking.or_(saved).or_(lost).first.wait_for(timeout=LINK_CHECK * 1000)
    step.screens.shot_if("step7-undo-checking-link", checking)
    with waiting_for("the check after the undo to end"):
        saved.or_(lost).first.wait_for(timeout=LINK_CHECK * 1000)
    assert not lost.is_visible(), "the link is still lost after the undo"
    step.screens.shot("step7-undone")
    writes = settings_writes(admin)
    assert len(writes) == 1, f"expected one write for the undo, the emulator saw {writes}"
    (put,) = writes
    assert (put["method"], put["path"], put["status"]) == ("PUT", SETTINGS_PATH, 200), put
    assert put["body"] == {"if_type": "auto"}, put["body"]
    after = admin.state()
    assert (after["meter_settings"]["if_type"], after["meter_status"]) == ("auto", "OK"), after
    # the check found the link OK (what ends the flow) and withdrew the issue before that
    assert link_issue(step, entry_id) is None, "the link-lost issue is still there after the undo"
    dialog.get_by_role("button", name="Finish").click()
    wait_dialog_closed(page, "the options dialog")

    def new_power() -> dict[str, Any] | None:
        state = power_import_state(step)
        if state["state"] == power_at_undo["state"]:
            return None
        float(state["state"])  # a number (not unavailable): a reading came (ValueError: retry)
        return state

    wait_for(
        f"HA's Power import to change from {power_at_undo['state']!r} after the undo",
        new_power,
        timeout=LIVE_CHANGE,
    )
    open_meter_device_page(step)
    first = shown_power(page)
    step.screens.shot("step7-device-power-again")
    assert shown_power_change(page, first) != first


GAS_BUS = 1  # the emulated DSMR meter's gas meter (EmulatorProcess.submeters)
GAS_METER = "Gas meter"  # its device, named by what it measures
GAS_ADVANCE = 0.125  # m³ that step 8 lets flow through the gas meter
DEVICE_ZONE = ZoneInfo("Europe/Zurich")  # the emulated gateway's local time (its factory zone)


def gas_meter_devices(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """The meter device and the gas meter's device in HA's device registry."""
    assert world.api is not None
    (entry,) = world.api.entries("whatwatt")
    found = haapi.devices(world.api, entry["entry_id"])
    meters = [d for d in found if d["name"] == METER]
    gas = [d for d in found if d["name"] == GAS_METER]
    assert len(meters) == 1, f"{len(meters)} devices named {METER!r}: {found}"
    assert len(gas) == 1, f"{len(gas)} devices named {GAS_METER!r} (yet)"
    return meters[0], gas[0]


def entity_state(world: World, entity_id: str) -> dict[str, Any]:
    """HA's state of `entity_id` (state, attributes, ...)."""
    assert world.api is not None
    state: dict[str, Any] = world.api.get(f"/api/states/{entity_id}")
    return state


def as_the_frontend_shows(state: str, precision: int | None) -> str:
    """A numeric state as HA's frontend shows it in English (without the unit).

    With the entity's display precision (its own or the integration's suggestion) that many
    decimals; without, at most 2 (trailing zeros dropped), rounded half up: "2417.385" is
    "2,417.39".
    """
    places = 2 if precision is None else precision
    text = f"{Decimal(state).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,f}"
    return text.rstrip("0").rstrip(".") if precision is None and "." in text else text


def shown_reading_as_in_ha(
    world: World, entity_id: str, at_least: float = 0.0, *, row: str = "Reading", unit: str = "m³"
) -> str:
    """Wait until the page's `row` shows HA's state (at least `at_least`) in `unit`; return it.

    HA's state is read again on each try: the page follows it, a moment later.
    """
    assert world.api is not None
    (display,) = world.api.ws({"type": "config/entity_registry/list_for_display"})
    (entity,) = [e for e in display["entities"] if e["ei"] == entity_id]

    def probe() -> str | None:
        state = entity_state(world, entity_id)["state"]
        if float(state) < at_least:  # ValueError (unavailable, unknown): try again
            return None
        expected = f"{as_the_frontend_shows(state, entity.get('dp'))} {unit}"
        shown = entity_row_value(world.page, row)
        if shown is None or shown.replace("\N{NO-BREAK SPACE}", " ") != expected:
            raise ValueError(f"the {row} row shows {shown!r}, HA has {state!r} ({expected!r})")
        return shown

    return wait_for(f"the {row} row to show HA's {entity_id} (>= {at_least})", probe)


def test_step8_gas_meter_device_page_shows_its_reading(step: World) -> None:
    """Step 8: the DSMR meter's gas meter is a device of its own, with its reading in m³.

    From the integration page to the "Gas meter" device: linked via the meter device, its
    Reading row shows what HA has.  Then gas flows (the emulator's gas meter takes a reading,
    0.125 m³ on): HA's reading and its last-reading time become the emulator's, and the page
    shows the new reading.
    """
    step.need("step2")
    admin = emulator_admin(step)
    assert step.api is not None
    page = step.page
    # the gas meter's device comes with the first report that carries it (1 s after set-up)
    meter, gas = wait_for(
        f"HA's {GAS_METER!r} device", lambda: gas_meter_devices(step), timeout=LIVE_CHANGE
    )
    emulated = admin.submeter(GAS_BUS)
    assert (emulated["medium"], emulated["unit"]) == ("gas", "m³"), emulated
    assert gas["via_device_id"] == meter["id"], (gas, meter)
    assert gas["serial_number"] == emulated["meter_id"], gas
    entities = {e["translation_key"]: e for e in haapi.entities(step.api, gas["id"])}
    assert set(entities) == {"submeter_reading", "submeter_last_reading", "submeter_flow_rate"}, (
        entities
    )
    reading_id = entities["submeter_reading"]["entity_id"]
    last_id = entities["submeter_last_reading"]["entity_id"]
    assert entities["submeter_last_reading"]["entity_category"] == "diagnostic", entities
    attributes = entity_state(step, reading_id)["attributes"]
    assert attributes.get("device_class") == "gas", attributes
    assert attributes.get("unit_of_measurement") == "m³", attributes
    assert attributes.get("state_class") == "total_increasing", attributes
    assert attributes.get("friendly_name") == f"{GAS_METER} Reading", attributes
    last = entity_state(step, last_id)
    assert last["attributes"].get("device_class") == "timestamp", last

    page.goto(step.hass.url + "/config/integrations/integration/whatwatt", wait_until="load")
    page.get_by_text(GAS_METER, exact=True).click()
    page.wait_for_url(re.compile(r"/config/devices/device/"))
    assert page.url.endswith(f"/config/devices/device/{gas['id']}"), page.url
    page.get_by_text(GAS_METER, exact=True).first.wait_for()
    page.get_by_text("Reading", exact=True).first.wait_for()
    # the device card names the parent: "Connected via <the meter device>", a link to its page
    via = page.locator(".extra-info").filter(has_text="Connected via")
    expect(via.locator(f'a[href="/config/devices/device/{meter["id"]}"]')).to_have_text(METER)
    first = shown_reading_as_in_ha(step, reading_id)
    step.screens.shot("step8-gas-meter")

    before = admin.submeter(GAS_BUS)
    advanced = admin.advance_submeter(GAS_BUS, GAS_ADVANCE)
    new_cum = advanced["cumulative"]
    # at least: a scheduled reading (every minute) may fall between the two requests
    assert round((new_cum - before["cumulative"]) * 1000) >= GAS_ADVANCE * 1000, (before, advanced)

    def ha_has_the_emulators_reading() -> dict[str, Any]:
        emulated = admin.submeter(GAS_BUS)
        state = entity_state(step, reading_id)["state"]
        last = entity_state(step, last_id)["state"]
        # ValueError (unavailable, not yet the new reading): try again; float(): "2418.0" is 2418
        read_at = datetime.fromisoformat(last).astimezone(DEVICE_ZONE)  # the gateway's time
        ha = (float(state), read_at.strftime("%Y-%m-%dT%H:%M:%S"))
        emulator = (emulated["cumulative"], emulated["date_time"])
        if emulated["cumulative"] < new_cum or ha != emulator:
            raise ValueError(f"HA has {state} m³ read at {last}, the emulator {emulated}")
        return emulated

    # the reading and its time (DT, the gateway's local time) as the emulator has them
    wait_for(
        f"HA's gas reading and its time to become the emulator's new Cum {new_cum} and DT",
        ha_has_the_emulators_reading,
        timeout=LIVE_CHANGE,
    )
    later = shown_reading_as_in_ha(step, reading_id, at_least=new_cum)
    # the Last reading row (relative time) follows a moment later: wait, for the screenshot
    wait_for(
        "the Last reading row to show a reading of the last minute",
        lambda: re.fullmatch(r"now|\d+ seconds? ago", entity_row_value(page, "Last reading") or ""),
    )
    step.screens.shot("step8-gas-meter-advanced")
    assert later != first, (first, later)


def state_named(world: World, name: str) -> dict[str, Any]:
    """HA's state of the entity called `name` (its friendly name, as the user sees it)."""
    assert world.api is not None
    states: list[dict[str, Any]] = world.api.get("/api/states")
    found = [s for s in states if s["attributes"].get("friendly_name") == name]
    assert len(found) == 1, f"{len(found)} entities named {name!r}"
    return found[0]


DEMAND_SENSORS = (
    "Demand, current window",
    "Demand, projected",
    "Demand, last window",
    "Monthly peak demand",
    "Monthly peak start",
    "Capacity basis, 12 months",
)
WINDOW_SECONDS = 15 * 60  # the demand window by default (Configure -> Demand windows)
# Step 9's load: more than any window of the simulated household averages (at most about
# 2.6 kW), so that the month's peak is one of its windows too.
DEMAND_LOAD_KW = 4.8
# A window's demand from the meter's register and clock: the register has 1 Wh steps and the
# meter's time whole seconds (at 4.8 kW, 1.3 Wh a second), each end interpolated between two
# reports 30 meter-seconds apart (CLOCK_SPEED): with a steady load the interpolation itself is
# exact, what is left is the 1 Wh steps and the whole seconds, a few Wh over the window, some
# 10-20 W.  1 % leaves room and still tells the load from anything else.
DEMAND_TOLERANCE_W = 0.01 * DEMAND_LOAD_KW * 1000
CLOCK_SPEED = 30.0  # meter-seconds per second while the meter's clock catches up
CLOCK_LEAD = 20.0  # the meter's clock starts this many seconds before a window boundary


def run_meter_clock_fast(admin: EmulatorAdmin) -> float:
    """Put the meter's clock just before a window 30 to 45 minutes back and let it catch up.

    The meter's clock is set CLOCK_LEAD seconds before a window boundary and runs CLOCK_SPEED
    times faster than real time until it is back on time (a minute or more): the window from
    that boundary completes about half a minute later, the next one half a minute after that.
    Home Assistant trusts it all along (it is never more than an hour off its own clock) and
    ends up where it was, in time with Home Assistant's.  Returns the boundary (a POSIX time):
    15-minute windows on Zurich's local clock are the POSIX quarter hours, its offsets being
    whole hours.
    """
    world = admin.state()["clock"]["world"]
    boundary = float(math.ceil((world - 45 * 60) / WINDOW_SECONDS) * WINDOW_SECONDS)
    offset = boundary - CLOCK_LEAD - world
    # fast until the world is -offset ahead of real time: the meter's clock (world + offset)
    # is then real time again
    admin.clock(offset=offset, speed=CLOCK_SPEED, ahead=-offset)
    return boundary


def restore_meter_clock(admin: EmulatorAdmin) -> None:
    """The meter's clock on real time at real pace, the simulated household's load again."""
    ahead = admin.state()["clock"]["ahead_now"]  # how far the world is ahead of real time
    admin.clock(speed=1.0, offset=-ahead)
    admin.load(None)


def demand_states(world: World, boundary: float) -> dict[str, dict[str, Any]] | None:
    """The six demand sensors' states once a window from `boundary` on has completed, or None."""
    assert world.api is not None
    states: list[dict[str, Any]] = world.api.get("/api/states")
    named = {s["attributes"].get("friendly_name"): s for s in states}
    found = {name: named[f"{METER} {name}"] for name in DEMAND_SENSORS}  # KeyError: not yet
    start = found["Demand, last window"]["attributes"].get("window_start")
    if start is None or datetime.fromisoformat(start).timestamp() < boundary:
        return None
    float(found["Monthly peak demand"]["state"])  # ValueError (unknown): try again
    # The window under way is "unknown" when the report that opened it fell exactly on the
    # boundary (no time since its start: 0/0), until it is written again, 10 s at most later.
    float(found["Demand, current window"]["state"])
    return found


def near_load(state: dict[str, Any]) -> float:
    """The numeric state of a demand sensor; assert it is the step's load (W)."""
    value = float(state["state"])
    load = DEMAND_LOAD_KW * 1000
    assert abs(value - load) <= DEMAND_TOLERANCE_W, (
        f"{state['attributes'].get('friendly_name')} is {value} W, not {load} W "
        f"± {DEMAND_TOLERANCE_W} W: {state}"
    )
    return value


def test_step9_meter_device_shows_demand_with_a_completed_window(step: World) -> None:
    """Step 9: the meter device's demand sensors, with a window complete: 4.8 kW, as drawn.

    The meter imports a steady 4.8 kW, and its clock (the demand windows follow the meter's
    clock, as the utility's do) runs fast for a minute or two: a 15-minute window goes by
    in about half a minute.  Once one has completed, "Demand, last window" shows 4,800 W
    (within 1 %), and so do the month's peak, the projection of the window under way and, with
    no other month, the 12-month basis; the device page shows the six rows.  Then the meter's
    clock is on time again and the household's load back, for the steps after.
    """
    step.need("step2")
    admin = emulator_admin(step)
    assert step.api is not None
    page = step.page
    admin.load(DEMAND_LOAD_KW)
    try:
        boundary = run_meter_clock_fast(admin)
        states = wait_for(
            "a demand window of the meter's steady load to complete (Demand, last window)",
            lambda: demand_states(step, boundary),
            timeout=DEMAND_WINDOW,
        )
        last = states["Demand, last window"]
        near_load(last)
        start = datetime.fromisoformat(last["attributes"]["window_start"])
        assert (start.minute % 15, start.second) == (0, 0), last  # a local quarter hour
        peak = states["Monthly peak demand"]
        near_load(peak)
        peak_start = datetime.fromisoformat(states["Monthly peak start"]["state"])
        assert peak_start.timestamp() >= boundary, (peak_start, boundary)
        near_load(states["Demand, projected"])  # the same load, the rest of the window too
        current = states["Demand, current window"]
        assert current["attributes"]["partial"] is False, current  # from the window's start
        basis = states["Capacity basis, 12 months"]
        if basis["attributes"]["months"] == 1:  # else a month began 45 minutes ago
            assert float(basis["state"]) == float(peak["state"]), (basis, peak)

        open_meter_device_page(step)
        shown = shown_reading_as_in_ha(step, last["entity_id"], row="Demand, last window", unit="W")
        assert shown.replace("\N{NO-BREAK SPACE}", " ").startswith("4,"), shown
        for name in DEMAND_SENSORS:
            wait_for(f"the {name} row", lambda name=name: entity_row_value(page, name))
        rows = page.locator("hui-sensor-entity-row, hui-generic-entity-row")
        rows.filter(has_text="Demand, last window").first.scroll_into_view_if_needed()
        step.screens.shot("step9-demand-sensors")
    finally:
        restore_meter_clock(admin)


GRID_LOAD_KW = 2.4  # what the meter imports in step 10: the grid power the dashboard shows
GAS_FLOW_M3H = 0.6  # what flows through the gas meter in step 10
PRICES = {"Import price, tariff 1": 0.31, "Import price, tariff 2": 0.22}  # CHF/kWh
EXPORT_PRICE = 0.08  # CHF/kWh
# What energy/validate may say about our entities on a fresh install: the recorder compiles the
# statistics of a sensor every 5 minutes (on the clock) and only then knows its statistic, so a
# dashboard set up in its first minutes is told "statistics not defined" for the sensors that
# have not been through a compilation yet.  Only for statistics the recorder lists as to come
# (recorder/list_statistic_ids: the sensor platform's, by state class and unit).
NOT_YET = {"statistics_not_defined"}


def set_prices_in_the_options(world: World) -> None:
    """Integration page -> Configure -> "Energy prices": the tariff prices and the export price."""
    page = world.page
    page.goto(world.hass.url + "/config/integrations/integration/whatwatt", wait_until="load")
    page.get_by_role("button", name="Configure").click()
    dialog = page.locator("dialog-data-entry-flow")
    dialog.get_by_text("Energy prices").click()
    for label, price in [*PRICES.items(), ("Export (feed-in) price", EXPORT_PRICE)]:
        dialog.get_by_role("spinbutton", name=label).fill(str(price))
    world.screens.shot("step10-energy-prices")
    dialog.get_by_role("button", name="Submit").click()
    dialog.get_by_text("Options successfully saved").wait_for()
    dialog.get_by_role("button", name="Finish").click()
    wait_dialog_closed(page, "the options dialog")


def energy_prefs(world: World) -> dict[str, Any]:
    """Energy preferences with the integration's entities, as README "Energy dashboard" says.

    One grid connection per tariff (HA 2026.x: one import/export pair each), both priced by the
    Import price entity (it follows the tariff); the export and its price on the first, with
    the Net power for the grid's power view; the gas meter's reading with its flow rate.
    """
    meter = {
        name: state_named(world, f"{METER} {name}")["entity_id"]
        for name in (
            "Energy import tariff 1",
            "Energy import tariff 2",
            "Energy export",
            "Net power",
            "Import price",
            "Export price",
        )
    }
    grid = {
        "type": "grid",
        "stat_cost": None,
        "entity_energy_price": meter["Import price"],
        "number_energy_price": None,
        "stat_compensation": None,
        "number_energy_price_export": None,
        "cost_adjustment_day": 0,
    }
    return {
        "energy_sources": [
            {
                **grid,
                "stat_energy_from": meter["Energy import tariff 1"],
                "stat_energy_to": meter["Energy export"],
                "entity_energy_price_export": meter["Export price"],
                "stat_rate": meter["Net power"],
            },
            {
                **grid,
                "stat_energy_from": meter["Energy import tariff 2"],
                "stat_energy_to": None,
                "entity_energy_price_export": None,
            },
            {
                "type": "gas",
                "stat_energy_from": state_named(world, f"{GAS_METER} Reading")["entity_id"],
                "stat_rate": state_named(world, f"{GAS_METER} Flow rate (calculated)")["entity_id"],
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
            },
        ],
        "device_consumption": [],
    }


def numeric_state(world: World, name: str, value: float) -> dict[str, Any] | None:
    """HA's state of the entity called `name` once it is `value` (within a millionth), or None."""
    state = state_named(world, name)
    return state if abs(float(state["state"]) - value) < 1e-6 else None


def five_minute_means(world: World, statistic_id: str) -> list[dict[str, Any]]:
    """The recorder's 5-minute statistics (means) of `statistic_id` today (what "Now" draws)."""
    assert world.api is not None
    zone = ZoneInfo(world.api.get("/api/config")["time_zone"])
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    (result,) = world.api.ws(
        {
            "type": "recorder/statistics_during_period",
            "start_time": midnight.isoformat(),
            "statistic_ids": [statistic_id],
            "period": "5minute",
            "types": ["mean"],
        }
    )
    found: list[dict[str, Any]] = result.get(statistic_id, [])
    return found


def test_step10_energy_dashboard_shows_grid_power_and_gas_flow(step: World) -> None:
    """Step 10: the Energy dashboard set up with the integration's entities, live on "Now".

    The owner enters the tariff and feed-in prices (Configure -> Energy prices); the Energy
    preferences are saved over the websocket as the dashboard's setup saves them: a grid
    connection per tariff priced by the Import price entity, the export with the Export price,
    the Net power as the grid's power, the gas meter's reading and its calculated flow rate.
    The meter imports 2.4 kW and 0.6 m³/h of gas flows; once HA has them, the dashboard's own
    validation finds nothing wrong (on a fresh install: only statistics the recorder has not
    compiled yet), and the "Now" view shows the grid power, the gas flow and the power graph
    (the recorder's 5-minute statistics).  The Electricity and Gas views draw hourly
    statistics, which a fresh install does not have yet: their screenshots show that.
    """
    step.need("step2")
    admin = emulator_admin(step)
    assert step.api is not None
    page = step.page
    assert step.api.get("/api/config")["currency"] == "CHF"
    admin.load(GRID_LOAD_KW)
    admin.submeter_flow(GAS_BUS, GAS_FLOW_M3H)  # from its next reading on, every minute
    try:
        set_prices_in_the_options(step)

        # The first prices add the two price sensors (the entry reloads for that); the import
        # price is the one of the tariff the meter says is running.
        def tariffs_price() -> dict[str, Any] | None:
            tariff = state_named(step, f"{METER} Active tariff")["state"]  # T1 day, T2 night
            return numeric_state(
                step, f"{METER} Import price", PRICES[f"Import price, tariff {tariff}"]
            )

        wait_for("the Import price to be the active tariff's", tariffs_price)
        wait_for(
            f"the Export price to be {EXPORT_PRICE}",
            lambda: numeric_state(step, f"{METER} Export price", EXPORT_PRICE),
        )
        prefs = energy_prefs(step)
        step.api.ws({"type": "energy/save_prefs", **prefs})

        wait_for(
            f"HA's Net power to be {GRID_LOAD_KW} kW",
            lambda: numeric_state(step, f"{METER} Net power", GRID_LOAD_KW * 1000),
            timeout=LIVE_CHANGE,
        )
        # The flow rate has a value once the integration has seen two readings since it reloaded
        # (unknown until then, which the validation would call unavailable): the steady flow's
        # from the first reading taken after it was set, within a minute.
        wait_for(
            f"HA's gas flow rate to be {GAS_FLOW_M3H} m³/h",
            lambda: numeric_state(step, f"{GAS_METER} Flow rate (calculated)", GAS_FLOW_M3H),
            timeout=GAS_FLOW,
        )
        (validated,) = step.api.ws({"type": "energy/validate"})
        (ARTIFACTS / "energy-validate.json").write_text(json.dumps(validated, indent=1))
        (listed,) = step.api.ws({"type": "recorder/list_statistic_ids"})
        to_come = {s["statistic_id"] for s in listed}
        issues = [issue for source in validated["energy_sources"] for issue in source]
        for issue in issues:
            assert issue["type"] in NOT_YET, f"energy/validate: {issue}"
            affected = {entity for entity, _value in issue["affected_entities"]}
            assert affected <= to_come, f"not a statistic to come: {issue}"
        assert validated["device_consumption"] == [], validated

        # the "Now" view's power graph draws the recorder's 5-minute statistics
        net_power = prefs["energy_sources"][0]["stat_rate"]
        wait_for(
            "the recorder's 5-minute statistics of the Net power",
            lambda: five_minute_means(step, net_power),
            timeout=STATISTICS,
        )
        # compiled now: the validation no longer names it (what it tolerated was "not yet")
        (again,) = step.api.ws({"type": "energy/validate"})
        named = {
            e
            for source in again["energy_sources"]
            for i in source
            for e, _ in i["affected_entities"]
        }
        assert net_power not in named, again
        page.goto(step.hass.url + "/energy/now", wait_until="load")

        def badges() -> dict[str, str]:
            shown = {t[0]: t[-1] for t in shown_texts(page, "ha-badge") if len(t) >= 2}
            if "Power usage" not in shown or "Gas flow rate" not in shown:
                raise LookupError(f"badges: {shown}")
            return shown

        shown = wait_for("the Power usage and Gas flow rate badges", badges)
        power, gas = (
            shown[k].replace("\N{NO-BREAK SPACE}", " ") for k in ("Power usage", "Gas flow rate")
        )
        assert (power, gas) == (f"{GRID_LOAD_KW:g} kW", f"{GAS_FLOW_M3H:g} m³/h"), shown
        graph = page.locator("hui-power-sources-graph-card")
        graph.get_by_text("Power sources").wait_for()
        expect(graph.locator(".no-data")).to_have_count(0)  # a line: the statistics came
        step.screens.shot("step10-energy-now")
        # The energy views draw hourly statistics: none before the first full hour is compiled
        # (what the dashboard itself says, "up to 2 hours"); what they show meanwhile:
        page.goto(step.hass.url + "/energy/electricity", wait_until="load")
        page.get_by_text("Grid total").wait_for()
        step.screens.shot("step10-energy-electricity")
        page.goto(step.hass.url + "/energy/gas", wait_until="load")
        page.get_by_text("Gas total").wait_for()
        step.screens.shot("step10-energy-gas")
    finally:
        admin.load(None)
        admin.submeter_flow(GAS_BUS, None)


# Step 11: the gateway's meter settings put wrong by hand, in its own web page, as the emulator's
# dsmr5_wrong_settings scenario has them: a DSMR 5 meter on P1 (115200 8N1) behind an interface
# and protocol for an M-Bus meter and a fixed baud rate.  The gateway then finds no meter.
WRONG_BY_HAND = {"if_type": "mbus", "protocol": "hdlc", "auto_baudrate": False, "baudrate": 9600}
# what "Let the gateway detect the meter" sends for them: the fields it sets that differ (the
# interface mode is still automatic; the baud rate is not its to set)
DETECTED = {"if_type": "auto", "protocol": "auto", "auto_baudrate": True}
NOT_CONNECTED_MEANING = (
    "The gateway finds no meter on its interface: the interface type does not match the meter, "
    "or the cable is loose."
)
SYSTEM_PATH = "/api/v1/system"
DETECT_OFFER = "Let the gateway detect the meter"
GIVE_UP_OFFER = "Nothing worked: put back the settings from before"


def test_step11_link_cut_by_hand_the_assistant_brings_live_data_back(step: World) -> None:
    """Step 11: the meter link cut in the gateway's web page; the link assistant mends it.

    The owner sets the gateway up by hand for an M-Bus meter (one PUT of the meter settings
    with the Web UI password, as the gateway's own page sends it): the DSMR meter is not
    found, NOT CONNECTED, and its reports stop.  Home Assistant reads the status once no
    report has come for a while, and the meter's Status sensor says "Not connected".  Then
    Configure -> "Troubleshoot the meter link": the status in words with its meaning, the
    settings in use, and what fits, detection first.  "Let the gateway detect the meter" sends
    one PUT of just the fields that are not automatic, the link check reads the status after
    it, and the assistant ends with "the meter talks"; the power readings come back.
    """
    step.need("step2")
    admin = emulator_admin(step)
    assert step.emulator is not None
    assert step.api is not None
    page = step.page
    # the emulator's own scenario, so that the assistant's case is one the unit tests walk
    assert SCENARIOS["dsmr5_wrong_settings"].settings == WRONG_BY_HAND
    before = admin.state()
    settings = before["meter_settings"]
    assert before["meter_status"] == "OK", before
    assert {k: settings[k] for k in [*DETECTED, "if_mode"]} == {**DETECTED, "if_mode": "auto"}
    try:
        device_put(step.emulator.url, SETTINGS_PATH, WRONG_BY_HAND, step.emulator.password)
        cut = admin.state()
        assert cut["meter_status"] == "NOT CONNECTED", cut
        assert {k: cut["meter_settings"][k] for k in WRONG_BY_HAND} == WRONG_BY_HAND, cut

        def not_connected() -> bool:
            status = state_named(step, f"{METER} Status")["state"]
            power = power_import_state(step)["state"]
            if (status, power) != ("not_connected", "unavailable"):
                raise ValueError(f"Status is {status!r}, Power import {power!r}")
            return True

        wait_for(
            "the meter's Status sensor to say Not connected (and Power import unavailable)",
            not_connected,
            timeout=NOT_TALKING,
        )
        open_meter_device_page(step)
        wait_for(
            "the device page's Status row to say Not connected",
            lambda: entity_row_value(page, "Status") == "Not connected",
        )
        rows = page.locator("hui-sensor-entity-row, hui-generic-entity-row")
        rows.filter(has_text="Not connected").first.scroll_into_view_if_needed()
        step.screens.shot("step11-device-not-connected")

        page.goto(step.hass.url + "/config/integrations/integration/whatwatt", wait_until="load")
        page.get_by_role("button", name="Configure").click()
        dialog = page.locator("dialog-data-entry-flow")
        dialog.get_by_text("Troubleshoot the meter link").click()
        # the status in words and what it means, the settings in use, the offers that fit
        dialog.get_by_text("Not connected", exact=True).wait_for()
        dialog.get_by_text(NOT_CONNECTED_MEANING).wait_for()
        for shown in (
            "Interface type: M-Bus",
            "Protocol: DLMS/COSEM (HDLC)",
            "Interface mode: Automatic",
            "Detect serial settings automatically: off",
        ):
            dialog.get_by_text(shown).wait_for()
        options = dialog.locator("step-flow-menu ha-list-item")  # the menu's options, in order
        expect(options).to_have_text([DETECT_OFFER, GIVE_UP_OFFER])
        step.screens.shot("step11-troubleshoot-offers")
        admin.clear_log()  # opening the assistant read the settings and the status; from here
        options.filter(has_text=DETECT_OFFER).click()

        checking = dialog.get_by_text("Checking whether the meter talks to the gateway now")
        talks = dialog.get_by_text("The meter talks to")
        still = dialog.get_by_text("That step did not bring the meter back")
        with waiting_for("the check after the step to start (progress) or to end"):
            checking.or_(talks).or_(still).first.wait_for(timeout=LINK_CHECK * 1000)
        step.screens.shot_if("step11-checking-step", checking)  # only if still there
        with waiting_for("the check after the step to end"):
            talks.or_(still).first.wait_for(timeout=LINK_CHECK * 1000)
        assert not still.is_visible(), "the meter does not talk after the detection"
        expect(talks).to_have_text(
            f"The meter talks to {DEVICE}: status OK, and live data arrives."
        )
        step.screens.shot("step11-meter-talks")

        # what reached the device: one PUT (a 401 before it would be a stale nonce's challenge,
        # nothing written), of just the fields detection changes, then a read of the status
        log = admin.requests()
        writes = [r for r in log if r["method"] in ("PUT", "POST") and r["status"] != 401]
        assert len(writes) == 1, f"expected one write, the emulator saw {writes}"
        (put,) = writes
        assert (put["method"], put["path"], put["status"]) == ("PUT", SETTINGS_PATH, 200), put
        assert put["body"] == DETECTED, put["body"]
        after_put = log[log.index(put) + 1 :]
        assert any(r["method"] == "GET" and r["path"] == SYSTEM_PATH for r in after_put), log
        mended = admin.state()
        assert mended["meter_status"] == "OK", mended
        assert {k: mended["meter_settings"][k] for k in DETECTED} == DETECTED, mended

        dialog.get_by_role("button", name="Close").or_(
            dialog.locator("ha-icon-button").first
        ).first.click()
        wait_dialog_closed(page, "the assistant")
        # to live data: HA's readings come again, and the device page follows them
        wait_for(
            "HA's Power import to have a reading again",
            lambda: float(power_import_state(step)["state"]) >= 0,  # ValueError: not yet
            timeout=LIVE_CHANGE,
        )
        wait_for(
            "the meter's Status sensor to say OK",
            lambda: state_named(step, f"{METER} Status")["state"] == "ok",
            timeout=NOT_TALKING,
        )
        open_meter_device_page(step)
        first = shown_power(page)
        wait_for(
            "the device page's Status row to say OK",
            lambda: entity_row_value(page, "Status") == "OK",
        )
        step.screens.shot("step11-device-power-again")
        assert shown_power_change(page, first) != first
    finally:
        # the gateway as the journey had it (a failure half-way included): put back by hand
        # what is still as the owner set it
        now = admin.state()["meter_settings"]
        if back := {k: settings[k] for k in WRONG_BY_HAND if now[k] != settings[k]}:
            device_put(step.emulator.url, SETTINGS_PATH, back, step.emulator.password)
