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
