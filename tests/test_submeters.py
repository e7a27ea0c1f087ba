"""Sub-meters (gas, water, heat) behind the meter: devices, readings, the medium, removal.

Against the emulator, whose sub-meters read in steps (DSMR gas every 5 minutes, M-Bus every 15)
and send their local time (the device's zone, Europe/Zurich: Home Assistant runs in the same
zone here, as a user's would).  The clock is frozen; time passes when a test says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.whatwatt.client import Measurements, Volume
from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.sensor import WhatwattSubmeterSensor
from custom_components.whatwatt.submeters import async_known_submeters
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_pass_time, async_settle, async_wait_for
from .settings_common import loaded

GAS = "sensor.gas_meter_reading"
GAS_TIME = "sensor.gas_meter_last_reading"
ZURICH = "Europe/Zurich"


@pytest.fixture(autouse=True)
async def device_time_zone(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Home Assistant in the device's zone; a frozen clock."""
    await hass.config.async_set_time_zone(ZURICH)
    assert await async_setup_component(hass, "repairs", {})


@pytest.fixture
async def dsmr(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> AsyncIterator[tuple[MockConfigEntry, Emulator]]:
    """A P1 (DSMR) meter with a gas meter on bus 1, set up with its sensors."""
    emulator = await emulator_factory(meter="dsmr", submeters="gas")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        yield entry, emulator


@pytest.fixture
async def mbus(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> AsyncIterator[tuple[MockConfigEntry, Emulator]]:
    """An M-Bus (DLMS) meter with gas on bus 1 and water on bus 2."""
    emulator = await emulator_factory(meter="dlms", submeters="gas+water")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        yield entry, emulator


def _submeter(emulator: Emulator, bus: int) -> dict[str, Any]:
    return next(item for item in emulator.submeters() if item["bus"] == bus)


def _reading_entity(hass: HomeAssistant, entry: MockConfigEntry, bus: int) -> str:
    """The entity id of the reading of the sub-meter on ``bus``."""
    registry = er.async_get(hass)
    unique = next(
        e.unique_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.unique_id.startswith(f"{entry.unique_id}_bus{bus}_")
        and e.unique_id.endswith("_reading")
        and not e.unique_id.endswith("_last_reading")
    )
    entity_id = registry.async_get_entity_id("sensor", DOMAIN, unique)
    assert entity_id is not None
    return entity_id


async def test_dsmr_gas_meter_is_a_device_with_its_reading(
    hass: HomeAssistant,
    dsmr: tuple[MockConfigEntry, Emulator],
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """The P1 port's sub-meter: a "Gas meter" device via the meter, serial = its id; a gas
    reading in m³ (total increasing, as sent) and the time of that reading; no question asked."""
    entry, emulator = dsmr
    gas = _submeter(emulator, 1)
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{entry.unique_id}_bus1_{gas['meter_id']}"), entry.entry_id
    )
    assert device is not None
    assert device.name == "Gas meter"
    assert device.serial_number == gas["meter_id"]
    meter = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{entry.unique_id}_meter"), entry.entry_id
    )
    assert meter is not None
    assert device.via_device_id == meter.id
    state = hass.states.get(GAS)
    assert state is not None
    assert float(state.state) == gas["cumulative"]
    assert state.attributes["device_class"] == SensorDeviceClass.GAS
    assert state.attributes["unit_of_measurement"] == "m³"
    assert state.attributes["state_class"] == SensorStateClass.TOTAL_INCREASING
    taken = datetime.fromisoformat(gas["date_time"]).replace(tzinfo=ZoneInfo(ZURICH))
    assert datetime.fromisoformat(hass.states.get(GAS_TIME).state) == taken
    assert [i.issue_id for i in issue_registry.issues.values() if i.domain == DOMAIN] == []
    entities = [
        e
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if e.device_id == device.id
    ]
    assert [e.unique_id for e in entities] == snapshot


async def test_mbus_sub_meters_without_a_medium_ask_for_it(
    hass: HomeAssistant,
    mbus: tuple[MockConfigEntry, Emulator],
    device_registry: dr.DeviceRegistry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Two M-Bus sub-meters: the gateway cannot say what they measure, so they are
    "Sub-meter 1" and "Sub-meter 2" with a plain reading, and a repair asks about each."""
    entry, emulator = mbus
    names = sorted(
        d.name
        for d in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        if d.serial_number in {s["meter_id"] for s in emulator.submeters()}
    )
    assert names == ["Sub-meter 1", "Sub-meter 2"]
    for bus in (1, 2):
        state = hass.states.get(_reading_entity(hass, entry, bus))
        assert state is not None
        assert "device_class" not in state.attributes
        assert float(state.state) == _submeter(emulator, bus)["cumulative"]
        issue = issue_registry.async_get_issue(DOMAIN, f"submeter_medium_{entry.entry_id}_{bus}")
        assert issue is not None
        assert issue.is_fixable


async def test_the_repair_asks_the_medium_in_one_form(
    hass: HomeAssistant,
    mbus: tuple[MockConfigEntry, Emulator],
    issue_registry: ir.IssueRegistry,
) -> None:
    """The repair's form: a unit that does not fit is refused; gas in m³ is taken, the entry
    reloads, the same entity is now a gas reading and the question is gone."""
    entry, _emulator = mbus
    entity_id = _reading_entity(hass, entry, 1)
    manager = repairs_flow_manager(hass)
    assert manager is not None
    issue_id = f"submeter_medium_{entry.entry_id}_1"
    flow = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert flow["type"] is FlowResultType.FORM
    assert flow["description_placeholders"] == {"name": "whatwatt Go 9F8124", "bus": "1"}
    flow = await manager.async_configure(flow["flow_id"], {"medium": "gas", "unit": "L"})
    assert flow["errors"] == {"base": "unit_not_for_medium"}
    flow = await manager.async_configure(flow["flow_id"], {"medium": "gas", "unit": "m³"})
    assert flow["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await async_wait_for(
        hass, lambda: hass.states.get(entity_id).attributes.get("device_class") == "gas"
    )
    assert hass.states.get(entity_id).attributes["unit_of_measurement"] == "m³"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert entry.options == {"submeters": {"1": {"medium": "gas", "unit": "m³"}}}


async def test_the_medium_changes_in_the_options_on_the_same_entity(
    hass: HomeAssistant,
    mbus: tuple[MockConfigEntry, Emulator],
    device_registry: dr.DeviceRegistry,
) -> None:
    """Configure → Sub-meters: pick bus 2, say water in litres; the same entity (same unique
    id, same history) becomes a water reading in L and the device a "Water meter"."""
    entry, emulator = mbus
    entity_id = _reading_entity(hass, entry, 2)
    unique_id = er.async_get(hass).async_get(entity_id).unique_id
    manager = hass.config_entries.options
    flow = await manager.async_init(entry.entry_id)
    flow = await manager.async_configure(flow["flow_id"], {"next_step_id": "submeters"})
    assert flow["step_id"] == "submeters"
    flow = await manager.async_configure(flow["flow_id"], {"bus": "2"})
    assert flow["step_id"] == "submeter"
    assert flow["description_placeholders"]["meter_id"] == _submeter(emulator, 2)["meter_id"]
    flow = await manager.async_configure(flow["flow_id"], {"medium": "water", "unit": "gal"})
    assert flow["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await async_wait_for(
        hass,
        lambda: (
            (hass.states.get(entity_id) or None) is not None
            and hass.states.get(entity_id).attributes.get("device_class") == "water"
        ),
    )
    state = hass.states.get(entity_id)
    assert state.attributes["unit_of_measurement"] == "gal"
    assert er.async_get(hass).async_get(entity_id).unique_id == unique_id
    device = device_registry.async_get(er.async_get(hass).async_get(entity_id).device_id)
    assert device is not None
    assert device.name == "Water meter"


async def test_a_sub_meter_appears_and_vanishes_at_runtime(
    hass: HomeAssistant,
    dsmr: tuple[MockConfigEntry, Emulator],
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A water meter paired later gets its device and sensors at once (no reload); when it is
    gone from the data its device stays and its sensors turn unavailable after 15 minutes."""
    entry, emulator = dsmr
    runtime = entry.runtime_data
    emulator.add_submeter(2, "31207754", "water")
    emulator.advance_submeter(2, 0.012)
    await emulator.push_report()
    await async_wait_for(
        hass,
        lambda: (
            device_registry.async_get_device_by_identifier(
                (DOMAIN, f"{entry.unique_id}_bus2_31207754"), entry.entry_id
            )
            is not None
        ),
    )
    water = _reading_entity(hass, entry, 2)
    await async_wait_for(hass, lambda: hass.states.get(water) is not None)
    assert float(hass.states.get(water).state) == _submeter(emulator, 2)["cumulative"]
    assert entry.runtime_data is runtime  # the same loaded entry: no reload

    emulator.remove_submeter(2)
    await async_pass_time(hass, freezer, 14 * 60, step=5)
    assert hass.states.get(water).state != STATE_UNAVAILABLE
    await async_pass_time(hass, freezer, 2 * 60, step=5)
    assert hass.states.get(water).state == STATE_UNAVAILABLE
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, f"{entry.unique_id}_bus2_31207754"), entry.entry_id
        )
        is not None
    )
    assert hass.states.get(GAS).state != STATE_UNAVAILABLE


async def test_a_sub_meter_device_can_be_deleted_only_once_it_is_gone(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    dsmr: tuple[MockConfigEntry, Emulator],
    device_registry: dr.DeviceRegistry,
) -> None:
    """Deleting the gas meter's device is refused while the meter still reports it (it would
    come right back) and allowed once it no longer does; the gateway and meter never."""
    entry, emulator = dsmr
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    gas_id = _submeter(emulator, 1)["meter_id"]
    gas = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{entry.unique_id}_bus1_{gas_id}"), entry.entry_id
    )
    meter = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{entry.unique_id}_meter"), entry.entry_id
    )
    assert gas is not None
    assert meter is not None

    async def remove(device: dr.DeviceEntry) -> bool:
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": entry.entry_id,
                "device_id": device.id,
            }
        )
        return bool((await client.receive_json())["success"])

    assert not await remove(gas)
    assert not await remove(meter)
    emulator.remove_submeter(1)
    await emulator.push_report()
    await async_wait_for(hass, lambda: not entry.runtime_data.live.data.volumes)
    assert await remove(gas)
    assert device_registry.async_get(gas.id) is None
    # Back on the bus (the meter forwards it again): device and entities come back.
    emulator.add_submeter(1, gas_id, "gas")
    await emulator.push_report()
    await async_wait_for(
        hass,
        lambda: (
            device_registry.async_get_device_by_identifier(
                (DOMAIN, f"{entry.unique_id}_bus1_{gas_id}"), entry.entry_id
            )
            is not None
        ),
    )


async def test_a_disabled_sub_meter_sensor_stays_away_quietly(
    hass: HomeAssistant,
    dsmr: tuple[MockConfigEntry, Emulator],
    entity_registry: er.EntityRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The user disables the gas meter's flow rate: after the reload the other sensors of the
    gas meter work, and the meter's reports do not add it again and again (an error in the
    log with every report, a new entity object each time)."""
    entry, emulator = dsmr
    flow = next(
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if e.unique_id.endswith("_flow_rate")
    )
    entity_registry.async_update_entity(flow, disabled_by=er.RegistryEntryDisabler.USER)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    created = 0
    original = WhatwattSubmeterSensor.__init__

    def counting(self: WhatwattSubmeterSensor, *args: Any, **kwargs: Any) -> None:
        nonlocal created
        created += 1
        original(self, *args, **kwargs)

    updates = 0

    @callback
    def updated() -> None:
        nonlocal updates
        updates += 1

    unsubscribe = entry.runtime_data.live.async_add_listener(updated)
    with patch.object(WhatwattSubmeterSensor, "__init__", counting):
        for count in range(1, 4):
            assert await emulator.push_report() is not None
            await async_wait_for(hass, lambda c=count: updates >= c)
    unsubscribe()
    assert created == 0
    assert "does not generate unique IDs" not in caplog.text
    assert hass.states.get(flow) is None
    assert hass.states.get(_reading_entity(hass, entry, 1)) is not None


async def test_a_reading_never_goes_back_and_repeats_are_not_written(
    hass: HomeAssistant, dsmr: tuple[MockConfigEntry, Emulator]
) -> None:
    """Events repeat the same reading between sub-meter reads: no state write at all. A
    missing or 0 reading keeps the last good one (no false reset in the Energy dashboard)."""
    entry, emulator = dsmr
    gas = _submeter(emulator, 1)
    writes: list[str] = []
    for event_type in ("state_changed", "state_reported"):
        hass.bus.async_listen(
            event_type,
            callback(lambda e: writes.append(e.data["entity_id"])),
            event_filter=callback(lambda e: e.data["entity_id"] in (GAS, GAS_TIME)),
        )
    reports = [await emulator.push_report() for _ in range(3)]
    await async_settle(hass)  # the three reports are read and handled: no write for them
    live = entry.runtime_data.live
    assert reports[-1] is not None
    assert live.data.power_in == reports[-1]["P_In"]
    assert writes == []
    for volume in (
        Volume(bus=1, meter_id=gas["meter_id"], cumulative=0.0),
        Volume(bus=1, meter_id=gas["meter_id"]),
    ):
        live.async_set_updated_data(Measurements(power_in=1.0, volumes=(volume,)))
        await hass.async_block_till_done()
        assert float(hass.states.get(GAS).state) == gas["cumulative"]
    new = emulator.advance_submeter(1, 0.125)
    await emulator.push_report()
    await async_wait_for(hass, lambda: float(hass.states.get(GAS).state) == new)


@pytest.mark.freeze_time("2026-11-24 12:00:00+00:00")
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_sub_meter_entities_and_devices(
    hass: HomeAssistant,
    mbus: tuple[MockConfigEntry, Emulator],
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Snapshot of every sensor and device of an M-Bus meter with two sub-meters."""
    entry, _emulator = mbus
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    devices = [
        device
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        if any("_bus" in identifier for _, identifier in device.identifiers)
    ]
    assert sorted(devices, key=lambda d: sorted(d.identifiers)) == snapshot(name="devices")


async def test_without_sub_meters_the_step_says_so(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """No sub-meter reported (yet): the options step says so instead of an empty form."""
    emulator = await emulator_factory(meter="dsmr", submeters="none")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options
        flow = await manager.async_init(entry.entry_id)
        flow = await manager.async_configure(flow["flow_id"], {"next_step_id": "submeters"})
        assert flow["type"] is FlowResultType.ABORT
        assert flow["reason"] == "no_submeters"


async def test_one_sub_meter_goes_straight_to_its_form_and_refuses_a_wrong_unit(
    hass: HomeAssistant, dsmr: tuple[MockConfigEntry, Emulator]
) -> None:
    """A single sub-meter: its form at once; water in CCF is refused, nothing is stored."""
    entry, emulator = dsmr
    manager = hass.config_entries.options
    flow = await manager.async_init(entry.entry_id)
    flow = await manager.async_configure(flow["flow_id"], {"next_step_id": "submeters"})
    assert flow["step_id"] == "submeter"
    assert flow["description_placeholders"] == {
        "bus": "1",
        "meter_id": _submeter(emulator, 1)["meter_id"],
        "reading": f"{_submeter(emulator, 1)['cumulative']:g}",
    }
    flow = await manager.async_configure(flow["flow_id"], {"medium": "water", "unit": "CCF"})
    assert flow["errors"] == {"base": "unit_not_for_medium"}
    flow = await manager.async_configure(flow["flow_id"], {"medium": "heat", "unit": ""})
    assert flow["errors"] == {"base": "unit_required"}
    assert entry.options == {}


async def test_reports_stand_in_for_the_stream_for_sub_meters_too(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """PLUS/PRO: while another app holds the live stream, /api/v1/report (its volume[]) keeps
    the gas meter's reading current."""
    from .integration_common import other_live_client  # noqa: PLC0415

    emulator = await emulator_factory(meter="dsmr", submeters="gas", licence="PLUS")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        issues = ir.async_get(hass)
        takeover = f"stream_taken_over_{entry.entry_id}"
        async with other_live_client(emulator):
            for _ in range(120):  # the stream given up for 5 minutes: reports stand in
                if issues.async_get_issue(DOMAIN, takeover) is not None:
                    break
                await async_pass_time(hass, freezer, 1)
            assert issues.async_get_issue(DOMAIN, takeover) is not None
            streams = emulator.live_connections
            reports = len(emulator.requests("GET", "/api/v1/report"))
            new = emulator.advance_submeter(1, 0.25)
            for _ in range(12):
                if float(hass.states.get(GAS).state) == new:
                    break
                await async_pass_time(hass, freezer, 5)
            assert float(hass.states.get(GAS).state) == new
            assert len(emulator.requests("GET", "/api/v1/report")) > reports
            assert emulator.live_connections - streams <= 1  # the other app's, not ours


async def test_the_medium_question_of_an_unloaded_entry_ends(
    hass: HomeAssistant, mbus: tuple[MockConfigEntry, Emulator]
) -> None:
    """The gateway's entry is gone while the question is open: the form ends, no error."""
    entry, _emulator = mbus
    manager = repairs_flow_manager(hass)
    assert manager is not None
    flow = await manager.async_init(
        DOMAIN, data={"issue_id": f"submeter_medium_{entry.entry_id}_1"}
    )
    await hass.config_entries.async_unload(entry.entry_id)
    flow = await manager.async_configure(flow["flow_id"], {"medium": "gas", "unit": "m³"})
    assert flow["type"] is FlowResultType.ABORT
    assert flow["reason"] == "not_loaded"


async def test_the_known_sub_meters_are_those_seen_before_and_those_reported_now(
    hass: HomeAssistant,
    mbus: tuple[MockConfigEntry, Emulator],
) -> None:
    """One definition of which sub-meters exist, used by the sensors, the options step and the
    diagnostics: a device seen before (gone from the data: no entry) and those in the data
    now (with their entries), by bus; the picker names each one in the user's language."""
    entry, emulator = mbus
    water = _submeter(emulator, 2)["meter_id"]
    emulator.remove_submeter(2)
    await emulator.push_report()
    await async_wait_for(hass, lambda: len(entry.runtime_data.live.data.volumes) == 1)
    known = async_known_submeters(hass, entry)
    assert [(submeter.bus, volume is not None) for submeter, volume in known.items()] == [
        (1, True),
        (2, False),
    ]

    manager = hass.config_entries.options
    flow = await manager.async_init(entry.entry_id)
    flow = await manager.async_configure(flow["flow_id"], {"next_step_id": "submeters"})
    assert flow["step_id"] == "submeters"
    gas = _submeter(emulator, 1)
    assert [option["label"] for option in flow["data_schema"].schema["bus"].config["options"]] == [
        f"Bus 1 · {gas['meter_id']} · {gas['cumulative']:g} (?)",
        f"Bus 2 · {water} · - (?)",
    ]
    hass.config_entries.async_update_entry(
        entry, options={"submeters": {"1": {"medium": "water", "unit": "m³"}}}
    )
    await hass.config.async_update(language="de")
    flow = await manager.async_init(entry.entry_id)
    flow = await manager.async_configure(flow["flow_id"], {"next_step_id": "submeters"})
    label = flow["data_schema"].schema["bus"].config["options"][0]["label"]
    assert label.endswith("(Wasser, m³)")
