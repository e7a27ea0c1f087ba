"""The automation blueprints shipped in ``blueprints/automation/whatwatt/``, run by Home
Assistant's own blueprint and automation integrations against the emulator."""

from __future__ import annotations

from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import async_setup_component
import pytest
import yaml

from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_pass_time
from .settings_common import loaded
from .test_demand_sensors import PEAK, PROJECTED, _at

BLUEPRINTS = Path(__file__).parent.parent / "blueprints" / "automation" / "whatwatt"
STATUS = "sensor.whatwatt_go_9f8124_meter_status"


@pytest.fixture
def blueprint_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A configuration folder holding our blueprints, as a user's gets them by import."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "whatwatt"
    shutil.copytree(BLUEPRINTS, target)
    return target


def test_every_blueprint_names_its_source_and_inputs() -> None:
    """Each blueprint is an automation blueprint with a source URL in this repository (the
    README's import button) and a described input for every ``!input`` it uses."""
    found = sorted(BLUEPRINTS.glob("*.yaml"))
    assert found
    for path in found:
        text = path.read_text()
        loader = type("Loader", (yaml.SafeLoader,), {})
        loader.add_constructor("!input", lambda _loader, node: f"!input {node.value}")
        data = yaml.load(text, Loader=loader)
        meta = data["blueprint"]
        assert meta["domain"] == "automation"
        assert meta["source_url"].endswith(f"/blueprints/automation/whatwatt/{path.name}")
        used = {
            line.split("!input", 1)[1].strip() for line in text.splitlines() if "!input" in line
        }
        assert used <= set(meta["input"]), path.name
        for name, spec in meta["input"].items():
            assert spec.get("name"), (path.name, name)
            assert spec.get("description"), (path.name, name)


async def test_warn_before_a_new_monthly_peak_acts_once_per_window(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    blueprint_dir: Path,
) -> None:
    """2 kW until 08:45, then 0.5 kW: in the last 5 minutes of the windows 08:15 and 08:30
    the projection is at the peak, and the action runs once in each, though the projection
    changes every 10 s; in 08:45-09:00 it stays far below the peak, and nothing runs."""
    await hass.config.async_set_time_zone("Europe/Zurich")
    freezer.move_to(_at("2026-03-10T08:16:00"))
    emulator = await emulator_factory(report_interval=10.0, submeters="none")
    emulator.set_load({"steps": [[29 * 60, 2.0], [3600, 0.5]]})
    runs: list[str] = []

    @callback
    def _ran(event: Event[dict[str, Any]]) -> None:
        runs.append(hass.states.get(PROJECTED).attributes["window_start"])  # type: ignore[union-attr]

    hass.bus.async_listen("whatwatt_peak_warning", _ran)
    async with loaded(hass, emulator, [Platform.SENSOR]):
        assert await async_setup_component(
            hass,
            "automation",
            {
                "automation": {
                    "use_blueprint": {
                        "path": "whatwatt/warn_before_new_peak.yaml",
                        "input": {
                            "projected": PROJECTED,
                            "peak": PEAK,
                            "margin": 200,
                            "last_minutes": 5,
                            "actions": [{"event": "whatwatt_peak_warning"}],
                        },
                    }
                }
            },
        )
        await hass.async_block_till_done()
        await async_pass_time(hass, freezer, 44 * 60 + 10, step=10)
    assert runs == ["2026-03-10T08:15:00+01:00", "2026-03-10T08:30:00+01:00"]


async def _automation(hass: HomeAssistant, path: str, inputs: dict[str, Any]) -> None:
    """An automation made from one of our blueprints, as the UI makes it."""
    assert await async_setup_component(
        hass, "automation", {"automation": {"use_blueprint": {"path": path, "input": inputs}}}
    )
    await hass.async_block_till_done()


async def test_meter_link_lost_says_the_status_in_words_once_it_lasts(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    blueprint_dir: Path,
) -> None:
    """The meter stops talking (NOT CONNECTED): after the data is lost and the status read,
    the actions run once the status has not been OK for 5 minutes, with the status in words;
    a status that is OK again before that runs nothing."""
    emulator = await emulator_factory(report_interval=10.0, submeters="none")
    said: list[str] = []
    hass.bus.async_listen("whatwatt_link_lost", lambda event: said.append(event.data["status"]))
    async with loaded(hass, emulator, [Platform.SENSOR]):
        await _automation(
            hass,
            "whatwatt/meter_link_lost.yaml",
            {
                "status_sensor": STATUS,
                "duration": {"minutes": 5},
                "actions": [
                    {"event": "whatwatt_link_lost", "event_data": {"status": "{{ status }}"}}
                ],
            },
        )
        emulator.set_meter_status("NO DATA")
        await async_pass_time(hass, freezer, 3 * 60, step=10)
        assert hass.states.get(STATUS).state == "no_data"  # type: ignore[union-attr]
        emulator.set_meter_status(None)
        await async_pass_time(hass, freezer, 3 * 60, step=10)
        assert said == []
        emulator.set_meter_status("NOT CONNECTED")
        await async_pass_time(hass, freezer, 10 * 60, step=10)
    assert said == ["Not connected"]


@pytest.mark.parametrize("expected_lingering_timers", [True])  # utility_meter's cycle reset
async def test_tariff_to_utility_meters_follows_the_meter(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    blueprint_dir: Path,
) -> None:
    """Two utility meters with the tariffs peak and offpeak: when the meter switches to its
    tariff 2 at 22:00, both select offpeak."""
    await hass.config.async_set_time_zone("Europe/Zurich")
    freezer.move_to(_at("2026-03-10T21:58:00"))
    emulator = await emulator_factory(report_interval=10.0, submeters="none")
    async with loaded(hass, emulator, [Platform.SENSOR]):
        meter = "sensor.whatwatt_go_9f8124_meter"
        assert await async_setup_component(
            hass,
            "utility_meter",
            {
                "utility_meter": {
                    name: {
                        "source": f"{meter}_energy_import",
                        "cycle": cycle,
                        "tariffs": ["peak", "offpeak"],
                    }
                    for name, cycle in (("daily_energy", "daily"), ("monthly_energy", "monthly"))
                }
            },
        )
        await hass.async_block_till_done()
        await _automation(
            hass,
            "whatwatt/tariff_to_utility_meters.yaml",
            {
                "tariff_sensor": f"{meter}_active_tariff",
                "utility_meters": ["select.daily_energy", "select.monthly_energy"],
                "tariffs": "peak, offpeak",
            },
        )
        assert hass.states.get("select.daily_energy").state == "peak"  # type: ignore[union-attr]
        await async_pass_time(hass, freezer, 3 * 60, step=10)
        assert hass.states.get(f"{meter}_active_tariff").state == "2"  # type: ignore[union-attr]
        assert hass.states.get("select.daily_energy").state == "offpeak"  # type: ignore[union-attr]
        assert hass.states.get("select.monthly_energy").state == "offpeak"  # type: ignore[union-attr]
