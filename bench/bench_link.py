"""8. Device requests of a meter-link check: the write, during the check and after it.

After a meter-settings change that can cut the link to the meter, the integration checks the
link (``link.py``): it reads ``/api/v1/system`` at once and then at most every 5 s, and waits
for a live event, until the outcome (ok / lost / unreachable); never after it.  This part
counts what the device gets, per scenario, with a frozen clock moved in 1 s steps (counts and
durations are simulated, so they do not depend on the machine):

* the write: the PUT and its read-back GET;
* during the check, until its outcome, and how long it took (simulated seconds);
* the 5 minutes after the outcome, against a twin device in the same Home Assistant that got
  the same settings at the same instants, stored at the device itself (as from its web page):
  its link goes the same way and the integration polls it as usual (system every 5 min, every
  1 min while the meter link is not OK; meter settings every 10 min; the stream reconnecting
  while no data comes), but nothing was written to it and nothing checked.  Extra = device
  minus twin, per request kind: it should be 0 (the check leaves no polling behind).

The devices are the emulator (DSMR meter, a report every second, FREE licence, no password).
Scenario 4 needs a meter that stops sending while the gateway still says OK: the emulator has
no such mode (a DSMR meter on the wrong interface reports NOT CONNECTED; its faults cut or break
the stream, which reconnects), so the bench adds one in a subclass (the emulator is not
changed): ``silent`` drops the live events, the status stays OK.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.whatwatt.const import DOMAIN, SYSTEM_READ_COOLDOWN as CHECK_POLL_SECONDS
from custom_components.whatwatt.coordinator import WhatwattRuntimeData
from custom_components.whatwatt.link import MeterSettingsWrite
from whatwatt_emulator import Emulator, EmulatorConfig
from whatwatt_emulator.live import LiveStream
from whatwatt_emulator.meter import Reading

from .harness import add_entry
from .results import NOTES, note, record

SECTION = "8 link check"
SYSTEM = "/api/v1/system"
SETTINGS = "/api/v1/meter/settings"
LIVE = "/api/v1/live"
OPENED = f"GET {LIVE} (opened)"
WARM_UP = 60
"""Seconds of normal operation before the change (the stream is up and healthy)."""
AFTER = 300
"""The window after the outcome: 5 minutes."""
LIMIT = 120
"""No check may take longer than this (simulated seconds)."""
NOTE = (
    "8: frozen clock, 1 s steps; a DSMR meter reporting every 1 s (FREE, no password). "
    "'write' = the PUT and its read-back; 'during' = from the write to the outcome (the times "
    "are when the device got each /system read); 'after' = the 5 min after the outcome, "
    "against a twin device given the same settings at the device itself (normal polls, "
    "nothing checked)."
)


class _Device(Emulator):
    """The emulator, plus a meter that can fall silent while the gateway says OK (bench only)."""

    silent = False

    async def send_reading(self, stream: LiveStream, reading: Reading) -> None:
        """Send the reading unless the meter is silent."""
        if not self.silent:
            await super().send_reading(stream, reading)


@dataclass(frozen=True)
class Scenario:
    """One change written through the integration (and stored at the twin)."""

    id: str
    title: str
    changes: dict[str, Any]
    recognition: float = 0.0
    silent: bool = False
    """The meter stops sending at the change; the gateway keeps saying OK."""
    undo: bool = False
    """After the outcome, undo the change (one PUT) and measure that PUT and its check."""


SCENARIOS = (
    Scenario("1", "keeps the link (if_type p1 on the DSMR meter)", {"if_type": "p1"}),
    Scenario("2", "cuts the link (if_type mbus: NOT CONNECTED)", {"if_type": "mbus"}),
    Scenario(
        "3",
        "cuts the link, 3 s RECOGNITION first (if_type mbus)",
        {"if_type": "mbus"},
        recognition=3.0,
    ),
    Scenario(
        "4",
        "cuts the link, status stays OK, no data (rx_invert on, meter silenced)",
        {"rx_invert": True},
        silent=True,
    ),
    Scenario("5", "undo after 2 (if_type back to auto)", {"if_type": "mbus"}, undo=True),
    Scenario("6", "time/scaling only (conv_factor 2)", {"conv_factor": 2}),
)


@dataclass(frozen=True)
class Mark:
    """Where a device's request log and stream counter stood at one instant."""

    log: int
    streams: int


def _mark(device: Emulator) -> Mark:
    return Mark(len(device.log), device.live_connections)


def _requests(device: Emulator, since: Mark, until: Mark) -> Counter[str]:
    """The requests the device got between two marks, as ``METHOD path`` counts.

    A live stream is logged when it ends; streams are counted when opened instead.
    """
    counts = Counter(
        f"{r.method} {r.path}" for r in device.log[since.log : until.log] if r.path != LIVE
    )
    if opened := until.streams - since.streams:
        counts[OPENED] = opened
    return counts


def _describe(counts: Counter[str], *, by_name: bool = True) -> str:
    """``GET /api/v1/system x2, ...``: by name, or in the order they first came."""
    if not counts:
        return "none"
    items = sorted(counts.items()) if by_name else counts.items()
    return ", ".join(f"{what} x{n}" for what, n in items)


async def _settle(hass: HomeAssistant, devices: Iterable[Emulator]) -> None:
    """Let the requests and events of this instant finish (real I/O, the clock stays)."""
    devices = tuple(devices)
    last: tuple[tuple[int, int, int], ...] | None = None
    quiet = 0
    for _ in range(200):
        await hass.async_block_till_done()
        await hass.async_add_executor_job(time.sleep, 0.003)
        now = tuple(
            (len(d.log), d.live_connections, d.stream.sent if d.stream else -1) for d in devices
        )
        quiet = quiet + 1 if now == last else 0
        if quiet >= 2:
            return
        last = now


async def _tick(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, devices: Iterable[Emulator], seconds: int
) -> None:
    """Move the frozen clock on a second at a time, running what falls due each second."""
    devices = tuple(devices)
    for _ in range(seconds):
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)
        await _settle(hass, devices)


@dataclass
class Measured:
    """One write and its check, as the device saw it."""

    outcome: str
    seconds: float
    """From the write to the outcome (simulated)."""
    write: Counter[str]
    check: Counter[str]
    reads: list[float]
    """When the device got each /system read of the check (seconds after the write)."""


async def _write_and_check(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    device: _Device,
    twin: _Device,
    *,
    write: Callable[[], Awaitable[MeterSettingsWrite]],
    twin_changes: dict[str, Any],
) -> tuple[Measured, Mark, Mark]:
    """Store ``twin_changes`` at the twin and run ``write`` (the integration's write) now.

    Returns the measured write and check, and both devices' marks at the outcome.
    """
    link = _runtime(hass, device).link
    twin.store_meter_settings({**twin.meter_settings, **twin_changes})
    before = _mark(device)
    start, wall = hass.loop.time(), time.time()  # both frozen
    done = await write()
    await _settle(hass, (device, twin))  # the check's first read, at the write's instant
    ended: list[float] = []
    if done.check is not None:
        done.check.add_done_callback(lambda _task: ended.append(hass.loop.time()))
        for _ in range(LIMIT):
            if done.check.done():
                break
            await _tick(hass, freezer, (device, twin), 1)
        assert done.check.done(), "the check did not end"
        await _settle(hass, (device, twin))
    outcome = await link.async_outcome(done)
    at_outcome = _mark(device)
    requests = _requests(device, before, at_outcome)
    write_kinds = (f"PUT {SETTINGS}", f"GET {SETTINGS}")
    measured = Measured(
        outcome=outcome.link.value,
        seconds=(ended[0] if ended else start) - start,
        write=Counter({k: n for k, n in requests.items() if k in write_kinds}),
        check=Counter({k: n for k, n in requests.items() if k not in write_kinds}),
        reads=[
            r.time - wall
            for r in device.log[before.log : at_outcome.log]
            if (r.method, r.path) == ("GET", SYSTEM)
        ],
    )
    return measured, at_outcome, _mark(twin)


def _runtime(hass: HomeAssistant, device: Emulator) -> WhatwattRuntimeData:
    entry = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, device.config.device_id)
    assert entry is not None
    runtime: WhatwattRuntimeData = entry.runtime_data
    return runtime


def _capped(measured: Measured) -> bool:
    """At most one status read per CHECK_POLL_SECONDS during the check."""
    reads = measured.reads
    spaced = all(b - a >= CHECK_POLL_SECONDS - 1e-3 for a, b in pairwise(reads))
    return spaced and len(reads) <= 1 + int(measured.seconds // CHECK_POLL_SECONDS)


def _during(measured: Measured) -> str:
    """The check's requests, when its status reads came, and its outcome."""
    text = _describe(measured.check)
    if measured.reads:
        text += f" (at {', '.join(f'{t:g}' for t in measured.reads)} s)"
    if measured.outcome == "not_checked":
        return f"{text}; no check"
    return f"{text}; {measured.outcome} after {measured.seconds:g} s"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"scenario-{s.id}")
async def test_link_check_requests(
    hass: HomeAssistant, socket_enabled: None, freezer: FrozenDateTimeFactory, scenario: Scenario
) -> None:
    """8: the requests of a write and its link check, and none left behind after it."""
    devices: list[_Device] = []
    for device_id in ("B0B0000000C1", "B0B0000000C2"):
        config = EmulatorConfig(
            device_id=device_id, report_interval=1.0, recognition_time=scenario.recognition
        )
        devices.append(device := _Device(config))
        await device.start(host="127.0.0.1", port=0)
    device, twin = devices
    try:
        entries = [add_entry(hass, d.port, d.config.device_id) for d in devices]
        assert await async_setup_component(hass, DOMAIN, {})
        await hass.async_block_till_done()
        assert all(entry.state is ConfigEntryState.LOADED for entry in entries)
        await _tick(hass, freezer, devices, WARM_UP)
        link = _runtime(hass, device).link

        device.silent = twin.silent = scenario.silent
        measured, mark, twin_mark = await _write_and_check(
            hass,
            freezer,
            device,
            twin,
            write=lambda: link.async_write(scenario.changes),
            twin_changes=scenario.changes,
        )
        if scenario.undo:  # undo at once: one PUT of the previous values, and a new check
            assert measured.outcome == "lost", measured
            assert link.last_change is not None
            previous = link.last_change.undo()
            measured, mark, twin_mark = await _write_and_check(
                hass, freezer, device, twin, write=link.async_undo, twin_changes=previous
            )

        await _tick(hass, freezer, devices, AFTER)
        after = _requests(device, mark, _mark(device))
        baseline = _requests(twin, twin_mark, _mark(twin))
        more = sum((after - baseline).values())
        fewer = sum((baseline - after).values())

        name = f"{scenario.id} {scenario.title}"
        record(
            SECTION,
            f"{name}: during the check; outcome",
            _during(measured),
            baseline=f"write: {_describe(measured.write, by_name=False)}",
            target="<= 1 /system per 5 s",
            met=_capped(measured),
        )
        record(
            SECTION,
            f"{name}: extra requests in the 5 min after (vs twin)",
            f"{more}" + (f" ({fewer} fewer)" if fewer else ""),
            baseline=f"{_describe(after)} (twin: "
            + ("same" if after == baseline else _describe(baseline))
            + ")",
            target="0",
            met=more == 0,
        )
        if NOTE not in NOTES:
            note(NOTE)
    finally:
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        for device in devices:
            await device.stop()
