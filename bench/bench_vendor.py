"""6f: HA CPU per 1000 events, ours against the vendor's MQTT integration, in the same run.

The vendor's integration (whatwatt-ch/home-assistant-integration, v0.4.0: MQTT, domain
``whatwatt`` like ours) is not part of this repository: the user gives its directory in
``BENCH_VENDOR`` (``<checkout>/custom_components/whatwatt``).  The bench copies it to a
temporary directory as ``whatwatt_vendor`` (its manifest's and its ``const.DOMAIN``'s domain
renamed, nothing else changed), so both integrations run in one Home Assistant.  A mosquitto
broker (Debian's) runs on 127.0.0.1 for the run; HA's MQTT integration connects to it.

One emitter process holds our device (SSE, the DSMR meter with its gas meter, as in part 6)
and a vendor device that publishes the vendor's MQTT message for each meter report
(``bench.emitter``); both read the same meter (one seed).  As in 6d, a warm-up block each,
then PAIRED_BLOCKS blocks of numbered events alternating A B B A, with the recorder on (sqlite
file; a commit every 5 reports, as HA's 5 s at one report per second): both integrations get
the same number of events at the same rate in the same HA, and the CPU time of the HA process
(all threads) is measured per block.  The broker's CPU time is shown apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import hashlib
import json
import os
from pathlib import Path
import shutil
import statistics
from typing import Any

from homeassistant import loader
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components

from .bench_live import (
    COMMIT_S,
    PAIRED_BLOCKS,
    RECORD_ALL,
    SAME_METER,
    LiveDevice,
    LiveRun,
    _by_thread,
    _combine,
    _measure,
    _record_load,
    _thread_per_1000,
    _wake,
    scale_commits,
)
from .emitter import VENDOR_SEQ_SCALE
from .harness import Broker, add_entry, emitter, entity_id, mosquitto, mosquitto_binary
from .results import record

VENDOR = os.environ.get("BENCH_VENDOR", "")
"""The vendor's integration: the directory that holds its manifest.json."""
VENDOR_INTERVAL = float(os.environ.get("BENCH_VENDOR_INTERVAL", "0.04"))
"""Seconds between events for both integrations (25/s: every event is handled on its own, as
at one report per second; at the 200/s of part 6 events start to share wake-ups)."""
VENDOR_EVENTS = int(os.environ.get("BENCH_VENDOR_EVENTS", "250"))
"""Events per block; PAIRED_BLOCKS blocks per integration (4 x 250 = 1000 each)."""
VENDOR_COMMIT_S = COMMIT_S * VENDOR_INTERVAL
"""HA's 5 s commit interval on the bench's clock: 5 reports per commit, as at 1 report/s."""
VENDOR_DOMAIN = "whatwatt_vendor"
"""The domain the bench gives the vendor's integration (ours is ``whatwatt`` too)."""
HOW_TO = (
    "set BENCH_VENDOR=<checkout of whatwatt-ch/home-assistant-integration at v0.4.0>"
    "/custom_components/whatwatt (BENCHMARKS.md, part 6f)"
)
SECTION = "6f vs vendor"


def _sources_digest(root: Path) -> str:
    """Return a short sha256 of the integration's files (names and contents), to tell copies."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def install_vendor(source: Path, custom: Path) -> dict[str, str]:
    """Copy the vendor's integration to ``custom/whatwatt_vendor`` under that domain.

    Two lines change in the copy: ``"domain"`` in manifest.json and ``DOMAIN`` in const.py (the
    only places the domain is spelled).  Returns its manifest's version and the digest of the
    source.  ValueError when ``source`` is not the vendor's MQTT integration.
    """
    manifest_path = source / "manifest.json"
    if not manifest_path.is_file():
        raise ValueError(f"{source} has no manifest.json: {HOW_TO}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("domain") != "whatwatt" or "mqtt" not in manifest.get("dependencies", []):
        raise ValueError(f"{source} is not the vendor's MQTT integration (domain whatwatt, mqtt)")
    target = custom / VENDOR_DOMAIN
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    manifest["domain"] = VENDOR_DOMAIN
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    const = target / "const.py"
    text = const.read_text(encoding="utf-8")
    spelled = 'DOMAIN = "whatwatt"\n'
    if text.count(spelled) != 1:
        raise ValueError(f"{source}/const.py does not define DOMAIN as v0.4.0 does")
    const.write_text(text.replace(spelled, f'DOMAIN = "{VENDOR_DOMAIN}"\n'), encoding="utf-8")
    return {"version": str(manifest.get("version")), "digest": _sources_digest(source)}


@dataclass
class VersusVendor:
    """Blocks of numbered events of our device and the vendor's, taking turns (A B B A ...)."""

    ours: list[LiveRun] = field(default_factory=list)
    vendor: list[LiveRun] = field(default_factory=list)
    order: list[LiveRun] = field(default_factory=list)
    broker_cpu_s: float = 0.0
    """CPU time of the broker process during the vendor's blocks (not HA's)."""

    def per_block(self) -> str:
        """HA CPU per 1000 events of each block: ours | vendor."""
        return (
            " ".join(f"{r.cpu_per_1000:.2f}" for r in self.ours)
            + " | "
            + " ".join(f"{r.cpu_per_1000:.2f}" for r in self.vendor)
        )

    def pair_ratios(self) -> list[float]:
        """Ours / vendor of each block pair (the two blocks next to each other in time)."""
        return [
            a.cpu_per_1000 / b.cpu_per_1000 for a, b in zip(self.ours, self.vendor, strict=True)
        ]


def _spread(runs: list[LiveRun]) -> float:
    cpu = [r.cpu_per_1000 for r in runs]
    return max(cpu) - min(cpu)


@asynccontextmanager
async def _both(
    hass: HomeAssistant, broker: Broker
) -> AsyncIterator[tuple[LiveDevice, LiveDevice]]:
    """Set up HA's MQTT, our device and the vendor's, streaming the same meter."""
    mqtt_entry = MockConfigEntry(
        domain=mqtt.DOMAIN,
        data={mqtt.CONF_BROKER: "127.0.0.1", "port": broker.port},
        version=2,
        minor_version=1,
    )
    mqtt_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
    assert await mqtt.async_wait_for_mqtt_client(hass), "HA's MQTT client did not connect"
    async with emitter(
        1,
        interval=VENDOR_INTERVAL,
        meter_speed=1 / VENDOR_INTERVAL,
        seed=SAME_METER,
        vendor=1,
        mqtt_port=broker.port,
    ) as device:
        ours_entry = add_entry(hass, device.ports[0], device.ids[0])
        assert await hass.config_entries.async_setup(ours_entry.entry_id)
        topic = device.topics[0]
        vendor_entry = MockConfigEntry(
            domain=VENDOR_DOMAIN,
            unique_id=topic,
            data={"mqtt_topic": topic, "device_ip": "", "name": "vendor"},
            title="vendor",
        )
        vendor_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(vendor_entry.entry_id)
        await hass.async_block_till_done()
        await asyncio.sleep(2)  # steady state (the recorder has caught up with setup)
        registry = er.async_get(hass)

        def sensors(entry: MockConfigEntry) -> set[str]:
            return {
                e.entity_id
                for e in er.async_entries_for_config_entry(registry, entry.entry_id)
                if e.domain == "sensor"
            }

        vendor_power = registry.async_get_entity_id(
            "sensor", VENDOR_DOMAIN, f"{vendor_entry.entry_id}_power_in"
        )
        assert vendor_power is not None, "the vendor's integration has no power_in sensor"
        ours = LiveDevice(
            device,
            ours_entry.runtime_data.live,
            entity_id(hass, device.ids[0], "power_import"),
            sensors(ours_entry),
            0,
        )
        vendor = LiveDevice(
            device, None, vendor_power, sensors(vendor_entry), 1, seq_factor=VENDOR_SEQ_SCALE
        )
        yield ours, vendor


async def _versus(hass: HomeAssistant, broker: Broker) -> VersusVendor:
    """A warm-up block each, then blocks alternating ours / vendor (A B B A ...)."""
    versus = VersusVendor()
    async with _both(hass, broker) as (ours, vendor):
        devices = [ours, vendor]
        for dev in devices:  # they stream until told otherwise; from now on they take turns
            await dev.device.pause(dev.index)
        for dev in devices:  # warm-up, not counted
            await _wake(hass, devices)
            await _measure(hass, dev, VENDOR_EVENTS, recorder=True)
        for block in range(PAIRED_BLOCKS):
            for dev in (ours, vendor) if block % 2 == 0 else (vendor, ours):
                await _wake(hass, devices)
                broker0 = broker.cpu_seconds()
                run = await _measure(hass, dev, VENDOR_EVENTS, recorder=True)
                assert run.sent == VENDOR_EVENTS, "the emulator could not emit every event"
                if dev is vendor:
                    versus.broker_cpu_s += broker.cpu_seconds() - broker0
                (versus.vendor if dev is vendor else versus.ours).append(run)
                versus.order.append(run)
    return versus


def _record(versus: VersusVendor, vendor: dict[str, str]) -> None:
    s = SECTION
    ours, theirs = _combine(versus.ours), _combine(versus.vendor)
    a, b = ours.cpu_per_1000, theirs.cpu_per_1000
    record(
        s,
        "events: same meter, same count, same rate, one HA, recorder on (sqlite file)",
        f"{PAIRED_BLOCKS} x {VENDOR_EVENTS} each at {ours.rate:.0f} | {theirs.rate:.0f}/s,"
        f" alternating after a warm-up; a commit every {VENDOR_COMMIT_S * 1000:.0f} ms"
        f" ({COMMIT_S} reports, as {COMMIT_S} s at 1 report/s)",
    )
    record(
        s,
        "HA CPU per 1000 events (recorder on): ours (default set) vs vendor (MQTT)",
        f"{a:.2f} s",
        baseline=f"{b:.2f} s (vendor {vendor['version']}, this run)",
        ratio=f"{a / b:.2f}x",
    )
    ratios = versus.pair_ratios()
    record(
        s,
        "ours / vendor per pair of neighbouring blocks (median; min-max)",
        " ".join(f"{r:.2f}" for r in ratios)
        + f" ({statistics.median(ratios):.2f}; {min(ratios):.2f}-{max(ratios):.2f})",
    )
    record(s, "HA CPU per 1000 events per block: ours | vendor", versus.per_block())
    record(
        s,
        "noise: spread (max - min) of the blocks of one arm: ours / vendor",
        f"{_spread(versus.ours):.2f} / {_spread(versus.vendor):.2f} s",
    )
    record(s, "HA CPU per 1000 events by thread, ours", _by_thread(ours))
    record(s, "HA CPU per 1000 events by thread, vendor", _by_thread(theirs))
    for name in ("MainThread", "Recorder"):
        x, y = _thread_per_1000(ours, name), _thread_per_1000(theirs, name)
        record(
            s,
            f"{name} CPU per 1000 events: ours / vendor",
            f"{x:.2f} / {y:.2f} s",
            ratio=f"{x / y:.2f}x" if y else "",
        )
    record(
        s,
        "mosquitto CPU per 1000 vendor events (a process of its own, not in HA's figure)",
        f"{versus.broker_cpu_s * 1000 / theirs.sent:.2f} s",
    )
    record(
        s,
        "sensors with a value: ours | vendor",
        f"{ours.live_sensors} live of {ours.sensors} | {theirs.live_sensors} of {theirs.sensors}",
    )
    record(
        s,
        "state writes per event (changed + unchanged): ours | vendor",
        f"{ours.changes_per_event:.1f} + {ours.unchanged_writes / ours.sent:.1f}"
        f" | {theirs.changes_per_event:.1f} + {theirs.unchanged_writes / theirs.sent:.1f}",
    )
    record(
        s,
        "recorder state rows per event (measured): ours | vendor",
        f"{ours.rows_per_event:.2f} | {theirs.rows_per_event:.2f}",
        ratio=f"{ours.rows_per_event / theirs.rows_per_event:.2f}x"
        if theirs.rows_per_event
        else "",
    )
    record(
        s,
        "lost / duplicated events: ours | vendor",
        f"{ours.lost} / {ours.duplicates} | {theirs.lost} / {theirs.duplicates}",
    )
    record(
        s,
        "vendor integration (BENCH_VENDOR)",
        f"version {vendor['version']} (manifest), sources sha256 {vendor['digest']}",
    )
    _record_load(s, _combine(versus.order))


@pytest.mark.parametrize("recorder_config", [RECORD_ALL], ids=["record-all"])
@pytest.mark.usefixtures("socket_enabled", "mock_hass_config")  # an empty configuration.yaml
async def test_cpu_against_vendor(
    hass: HomeAssistant,
    recorder_config: dict[str, Any],
    recorder_mock: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """6f: HA CPU per 1000 events, ours and the vendor's, alternating in one HA."""
    label = "ours vs the vendor's MQTT integration, same run"
    if not VENDOR:
        record(SECTION, label, f"not run: {HOW_TO}")
        pytest.skip(f"6f not run: {HOW_TO}")
    binary = mosquitto_binary()
    if binary is None:
        why = "no mosquitto (apt-get install mosquitto; scripts/bench installs it as root)"
        record(SECTION, label, f"not run: {why}")
        pytest.skip(f"6f not run: {why}")
    custom = tmp_path / "custom_components"
    custom.mkdir()
    vendor = install_vendor(Path(VENDOR), custom)
    # HA finds custom integrations (and Python their modules) in custom_components.__path__.
    monkeypatch.setattr(custom_components, "__path__", [*custom_components.__path__, str(custom)])
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # found before the copy was there
    scale_commits(hass, VENDOR_COMMIT_S)
    async with mosquitto(binary, tmp_path) as broker:
        versus = await _versus(hass, broker)
    _record(versus, vendor)
