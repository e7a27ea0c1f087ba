"""Live events through a real Home Assistant.

1. report -> state latency and lost/duplicated events (10 000 numbered events);
6. HA CPU per 1000 events with the recorder on (sqlite file), and memory growth over them;
   the recorder rows those events wrote, scaled to a day at one meter report per second;
   6b/6c: what-ifs (a user's recorder exclusion; the sensors skipping a write whose value
   repeats, as before issue 11, against writing every update as shipped, which keeps HA's
   `last_reported` true);
   6d: the same HA CPU with two sub-meters (gas + water, their reading repeated in every event)
   against none, two devices in one HA taking turns.
The device runs in a child process (bench.emitter): this process's CPU time is HA's alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
import cProfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import gc
import os
import time
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED, UnitOfVolume
from homeassistant.core import (
    Event,
    EventStateChangedData,
    EventStateReportedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_component import DATA_INSTANCES
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_time_interval,
)
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_recorder_block_till_done,
)

from custom_components.whatwatt.sensor import (
    SUBMETER_FLOW,
    WhatwattDemandSensor,
    WhatwattPriceSensor,
    WhatwattSubmeterSensor,
    _WhatwattSensor,
)
from custom_components.whatwatt.submeters import Medium, with_kind

from .emitter import SEQ_BASE
from .harness import (
    EmitterProcess,
    add_entry,
    cpu_seconds,
    emitter,
    entity_id,
    gauge_ms,
    percentile,
    recorded_rows,
    recorder_committed,
    rss_bytes,
    thread_cpu,
)
from .results import record

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
CPU_EVENTS = int(os.environ.get("BENCH_CPU_EVENTS", "3000"))
INTERVAL = float(os.environ.get("BENCH_INTERVAL", "0.005"))
LATENCY_P99_TARGET_MS = 20.0
PAIRED_BLOCKS = int(os.environ.get("BENCH_PAIRED_BLOCKS", "4"))
PAIRED_EVENTS = int(os.environ.get("BENCH_PAIRED_EVENTS", "750"))
DAY_S = 86_400
SAME_METER = 0xB0B0
"""The seed of the meter when several devices take turns (each would have its own)."""
VENDOR_STATES_PER_MESSAGE = 16
"""The vendor's MQTT integration: 27 always-on sensors, 16 of them get a state per message."""
VENDOR_ROWS_PER_DAY = VENDOR_STATES_PER_MESSAGE * DAY_S


COMMIT_S = 5
RECORD_ALL = {"commit_interval": COMMIT_S}
"""HA's default commit interval (phcc's recorder would commit after every event)."""
RECORD_NO_PHASES = {**RECORD_ALL, "exclude": {"entity_globs": ["sensor.*_phase_*"]}}
"""What a user can do today: keep the per-phase power, voltage and current out of the db."""
SCALED_COMMIT_S = COMMIT_S * INTERVAL
"""HA's commit interval on the bench's clock: an event every INTERVAL s stands for a report
every second, so a commit every 5 x INTERVAL s holds the 5 reports a real commit holds."""


def scale_commits(hass: HomeAssistant, seconds: float = SCALED_COMMIT_S) -> None:
    """Have the recorder commit every ``seconds`` (its config takes whole seconds only).

    Without this, the bench's 200x faster events put about 1000 reports (6000 rows) in one
    5 s commit instead of 5, and the recorder's cost per row grows with the rows it holds.
    """
    instance = get_instance(hass)
    assert instance.commit_interval, "the recorder commits after every event already"
    if instance._commit_listener is not None:
        instance._commit_listener()
    instance._commit_listener = async_track_time_interval(
        hass,
        instance._async_commit,
        timedelta(seconds=seconds),
        name="Recorder commit (bench clock)",
    )


@dataclass
class LiveRun:
    """What one run of numbered events gave."""

    sent: int
    rate: float
    latencies_ms: list[float]
    lost: int
    duplicates: int
    changes_per_event: float
    cpu_s: float
    wall_s: float
    rss_growth: int
    gc_pauses_ms: list[float] = field(default_factory=list)
    threads: dict[str, float] = field(default_factory=dict)
    sensors: int = 0
    """Sensors of the device with a state (the enabled ones)."""
    unchanged_writes: int = 0
    """State writes of those sensors that changed nothing (HA's ``state_reported``)."""
    live_sensors: int = 0
    """Of those, the sensors of the live coordinator (updated by every event)."""
    stale: int = 0
    """Live sensors whose ``last_reported`` is older than the run, at its end."""
    rows: dict[str, int] = field(default_factory=dict)
    """Recorder ``states`` rows written during the run, per entity (recorder on only)."""
    rows_last_reported: int = 0
    """Rows of the run whose ``last_reported_ts`` is after their ``last_updated_ts``."""
    load: tuple[float, float] = (0.0, 0.0)
    """1-minute load average at the start and at the end of the run."""
    gauge_ms: float = 0.0
    """CPU time of the fixed loop of ``harness.gauge_ms`` just before the run."""
    submeter_writes: int = 0
    """State writes (changed or not) of the device's sub-meter sensors during the run."""
    submeter_readings: int = 0
    """Sub-meter entries of the events whose reading (``Cum`` or ``DT``) changed in the run."""
    changed: dict[str, int] = field(default_factory=dict)
    """State changes (``state_changed``) per sensor of the device during the run."""
    windows: int = 0
    """Demand windows the device's demand coordinator completed during the run."""
    tariff_changes: int = 0
    """Events of the run whose tariff (``T``) differs from the event before."""
    meter_seconds: float = 0.0
    """The meter's clock (``Date``/``Time``) from the first event of the run to the last."""

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s * 1000 / self.sent

    @property
    def rows_per_event(self) -> float:
        return sum(self.rows.values()) / self.sent

    @property
    def rows_per_day(self) -> float:
        """At one meter report (one event) per second."""
        return self.rows_per_event * DAY_S


@dataclass
class LiveDevice:
    """One emulated device set up in HA, streaming events."""

    device: EmitterProcess
    live: Any
    """The entry's live coordinator (None: the vendor's integration, which has none)."""
    power: str
    """The import-power sensor (its state is the number of the event)."""
    watched: set[str]
    """The device's sensors (in the registry, enabled or not)."""
    index: int = 0
    """The device's number in the emitter process."""
    submeter_sensors: set[str] = field(default_factory=set)
    """Of ``watched``, the enabled sensors of its sub-meters."""
    seq_factor: float = 1.0
    """The import-power state times this is SEQ_BASE + the number of the event (ours: W)."""
    demand: Any = None
    """The entry's demand coordinator (None: the vendor's integration)."""
    kinds: dict[str, set[str]] = field(default_factory=dict)
    """Of ``watched``, enabled sensors by kind: ``demand`` (of which ``demand_running``: the
    window under way), ``price`` (of which ``price_import``), ``flow`` (flow rates)."""


@asynccontextmanager
async def _live_device(hass: HomeAssistant) -> AsyncIterator[LiveDevice]:
    """Set up one device streaming events; runs of numbered events follow with ``_measure``."""
    async with _live_devices(hass) as devices:
        yield devices[0]


@asynccontextmanager
async def _live_devices(
    hass: HomeAssistant,
    submeters: list[str] | None = None,
    options: list[dict[str, Any]] | None = None,
    *,
    fast_clock: bool = False,
    tariff_period: float | None = None,
    before_setup: Callable[[int, MockConfigEntry], None] | None = None,
) -> AsyncIterator[list[LiveDevice]]:
    """Set up devices in one emitter process and one HA; they take turns with ``_measure``.

    ``submeters``: one item per device (``none``, ``gas+water``, ...); without it, one device
    with the profile's sub-meters (DSMR: the gas meter on bus 1).  ``options``: each entry's.
    Several devices read the same meter (one seed): their events differ only in ``Vol``.
    ``fast_clock``: the meters' clocks run 1/INTERVAL times faster too (``Date``/``Time``, the
    sub-meter captures, the tariff hours); ``tariff_period``: their tariff changes every that
    many seconds of their clock.  ``before_setup(index, entry)``: called with each entry
    added, before it is set up.
    """
    # Meter time runs 1/INTERVAL times faster: every event is a 1 s meter report, so the energy
    # counters move as much per event as with a real meter reporting every second.
    count = len(submeters) if submeters else 1
    async with emitter(
        count,
        interval=INTERVAL,
        meter_speed=1 / INTERVAL,
        clock_speed=1 / INTERVAL if fast_clock else 1.0,
        tariff_period=tariff_period,
        submeters=submeters,
        seed=SAME_METER if count > 1 else None,
    ) as device:
        entries = []
        for index, device_id in enumerate(device.ids):
            entry = add_entry(
                hass, device.ports[index], device_id, options=(options or [{}] * count)[index]
            )
            if before_setup is not None:
                before_setup(index, entry)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            entries.append(entry)
        await asyncio.sleep(2)  # steady state (the recorder has caught up with setup)
        registry = er.async_get(hass)
        component = hass.data[DATA_INSTANCES]["sensor"]
        devices = []
        for index, entry in enumerate(entries):
            watched = {
                e.entity_id
                for e in er.async_entries_for_config_entry(registry, entry.entry_id)
                if e.domain == "sensor"
            }
            power = entity_id(hass, device.ids[index], "power_import")
            submeter_sensors = {
                e for e in watched if isinstance(component.get_entity(e), WhatwattSubmeterSensor)
            }
            sensors = {e: s for e in watched if (s := component.get_entity(e)) is not None}
            demand = {e: s for e, s in sensors.items() if isinstance(s, WhatwattDemandSensor)}
            prices = {e: s for e, s in sensors.items() if isinstance(s, WhatwattPriceSensor)}
            kinds = {
                "demand": set(demand),
                "demand_running": {e for e, s in demand.items() if s.entity_description.running},
                "price": set(prices),
                "price_import": {
                    e for e, s in prices.items() if s.entity_description.key == "price_import"
                },
                "flow": {
                    e
                    for e in submeter_sensors
                    if sensors[e].entity_description.key == SUBMETER_FLOW.key
                },
            }
            runtime = entry.runtime_data
            devices.append(
                LiveDevice(
                    device,
                    runtime.live,
                    power,
                    watched,
                    index,
                    submeter_sensors,
                    demand=runtime.demand,
                    kinds=kinds,
                )
            )
        yield devices


async def _live_run(hass: HomeAssistant, events: int, *, recorder: bool) -> LiveRun:
    """Set up one device, stream ``events`` numbered events, time each to its state."""
    async with _live_device(hass) as dev:
        return await _measure(hass, dev, events, recorder=recorder)


async def _measure(  # noqa: PLR0915
    hass: HomeAssistant, dev: LiveDevice, events: int, *, recorder: bool
) -> LiveRun:
    """Have the device emit ``events`` numbered events; time each to its state."""
    device, live, power, watched = dev.device, dev.live, dev.power, dev.watched
    gauge = gauge_ms()  # before the run: the events it holds up are handled before the run
    if recorder:  # the rows of the events before the run are committed outside the run
        await async_recorder_block_till_done(hass)
        await recorder_committed(hass)

    seen: list[tuple[int, float]] = []
    updates: list[int] = []
    changes = 0
    all_in = asyncio.Event()
    submeters = dev.submeter_sensors
    submeter_writes = 0
    data = live.data if live is not None else None
    volumes = {v.bus: v for v in (data.volumes if data is not None else ())}
    submeter_readings = 0
    changed: dict[str, int] = {}
    windows = tariff_changes = 0
    tariff = [data.tariff if data is not None else None]
    demand = dev.demand
    snapshot = demand.data if demand is not None else None
    window = [snapshot.last_window if snapshot is not None else None]
    clock: list[datetime | None] = [None, None]  # the meter's time at the first and last event

    @callback
    def on_power(event: Event[EventStateChangedData]) -> None:
        now = time.monotonic()
        state = event.data["new_state"]
        if state is None or state.state in ("unknown", "unavailable"):
            return
        seq = round(float(state.state) * dev.seq_factor) - SEQ_BASE
        if seq > 0:
            seen.append((seq, now))
            if seq == events:
                all_in.set()

    @callback
    def on_any(event: Event[EventStateChangedData]) -> None:
        nonlocal changes, submeter_writes
        entity = event.data["entity_id"]
        if entity in watched:
            changes += 1
            changed[entity] = changed.get(entity, 0) + 1
            if entity in submeters:
                submeter_writes += 1

    unchanged = 0

    @callback
    def ours(data: EventStateReportedData) -> bool:
        return data["entity_id"] in watched

    @callback
    def on_reported(event: Event[EventStateReportedData]) -> None:
        nonlocal unchanged, submeter_writes
        unchanged += 1
        if event.data["entity_id"] in submeters:
            submeter_writes += 1

    @callback
    def on_update() -> None:
        nonlocal submeter_readings, windows, tariff_changes
        data = live.data
        if data is not None and data.power_in is not None and data.power_in > SEQ_BASE / 1000:
            updates.append(round(data.power_in * 1000) - SEQ_BASE)
        if data is not None and submeters:
            for volume in data.volumes:
                if volumes.get(volume.bus, volume) != volume:
                    submeter_readings += 1
                volumes[volume.bus] = volume
        if data is not None and data.meter_time is not None:
            clock[0] = clock[0] or data.meter_time
            clock[1] = data.meter_time
        if data is not None and data.tariff != tariff[0]:
            if tariff[0] is not None:
                tariff_changes += 1
            tariff[0] = data.tariff
        # The demand coordinator listens to the live one before this does: its data is new.
        if demand is not None and (snapshot := demand.data) is not None:
            if snapshot.last_window is not None and snapshot.last_window != window[0]:
                windows += 1
            window[0] = snapshot.last_window

    unsubs = [
        async_track_state_change_event(hass, [power], on_power),
        hass.bus.async_listen(EVENT_STATE_CHANGED, on_any),
        hass.bus.async_listen(EVENT_STATE_REPORTED, on_reported, event_filter=ours),
    ]
    if live is not None:
        unsubs.append(live.async_add_listener(on_update))
    gc_pauses: list[float] = []
    gc_start = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            gc_pauses.append((time.perf_counter() - gc_start[0]) * 1000)

    rss0, cpu0, wall0 = rss_bytes(), cpu_seconds(), time.monotonic()
    started, load0 = time.time(), os.getloadavg()[0]
    threads0 = thread_cpu()
    profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    if profiler is not None:  # the event loop's share, for analysis
        profiler.enable()
    gc.callbacks.append(on_gc)
    stamps = await device.run(events, dev.index)
    try:
        async with asyncio.timeout(10):
            await all_in.wait()
    except TimeoutError:
        pass
    await asyncio.sleep(0.2)  # late duplicates would show up here
    if recorder:  # the run's rows are in the database (the last commit is in the run)
        await async_recorder_block_till_done(hass)
        await recorder_committed(hass)
    gc.callbacks.remove(on_gc)
    cpu1, wall1 = cpu_seconds(), time.monotonic()
    threads1 = thread_cpu()
    load1 = os.getloadavg()[0]
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.environ["BENCH_PROFILE"])
    rss1 = rss_bytes()
    for unsub in unsubs:
        unsub()
    states = [s for e in watched if (s := hass.states.get(e)) is not None]
    component = hass.data[DATA_INSTANCES]["sensor"]
    if live is None:  # the vendor's: the sensors its messages give a value
        live_states = [s for s in states if s.state != "unavailable"]
    else:
        live_states = [
            s
            for s in states
            if getattr(component.get_entity(s.entity_id), "coordinator", None) is live
        ]
    rows = await recorded_rows(hass, watched, started) if recorder else {}

    sent = len(stamps)
    first: dict[int, float] = {}
    for seq, at in seen:
        first.setdefault(seq, at)
    latencies = [(first[s] - stamps[s - 1]) * 1000 for s in range(1, sent + 1) if s in first]
    if dump := os.environ.get("BENCH_DUMP"):  # seq, emitted, state changed (for analysis)
        with open(dump, "w", encoding="ascii") as out:  # noqa: ASYNC230
            out.writelines(f"{n} {stamps[n - 1]:.6f} {first.get(n, 0):.6f}\n" for n in first)
    return LiveRun(
        sent=sent,
        rate=(sent - 1) / (stamps[-1] - stamps[0]) if sent > 1 else 0.0,
        latencies_ms=latencies,
        lost=sent - len(latencies),
        duplicates=(len(seen) - len(first)) + (len(updates) - len(set(updates))),
        changes_per_event=changes / sent,
        cpu_s=cpu1 - cpu0,
        wall_s=wall1 - wall0,
        rss_growth=rss1 - rss0,
        gc_pauses_ms=gc_pauses,
        threads={
            name: threads1[name] - threads0.get(name, 0.0)
            for name in threads1
            if threads1[name] - threads0.get(name, 0.0) >= 0.01
        },
        sensors=len(states),
        unchanged_writes=unchanged,
        live_sensors=len(live_states),
        stale=sum(1 for s in live_states if s.last_reported_timestamp < started),
        rows={e: n for e, (n, _) in rows.items()},
        rows_last_reported=sum(r for _, r in rows.values()),
        load=(load0, load1),
        gauge_ms=gauge,
        submeter_writes=submeter_writes,
        submeter_readings=submeter_readings,
        changed=changed,
        windows=windows,
        tariff_changes=tariff_changes,
        meter_seconds=(clock[1] - clock[0]).total_seconds() if clock[0] and clock[1] else 0.0,
    )


def _by_thread(run: LiveRun) -> str:
    return ", ".join(
        f"{name} {cpu * 1000 / run.sent:.2f} s"
        for name, cpu in sorted(run.threads.items(), key=lambda item: -item[1])
    )


def _record_latency(section: str, run: LiveRun, label: str, *, target: bool) -> None:
    p50 = percentile(run.latencies_ms, 0.50)
    p99 = percentile(run.latencies_ms, 0.99)
    record(section, f"{label}: report->state p50", f"{p50:.2f} ms")
    met = p99 < LATENCY_P99_TARGET_MS if target else None
    goal = "< 20 ms" if target else ""
    record(section, f"{label}: report->state p99", f"{p99:.2f} ms", target=goal, met=met)
    record(section, f"{label}: report->state max", f"{max(run.latencies_ms):.2f} ms")
    pauses = run.gc_pauses_ms
    big = [p for p in pauses if p > 5]
    record(
        section,
        f"{label}: GC runs / > 5 ms / longest",
        f"{len(pauses)} / {len(big)} / {max(pauses, default=0):.1f} ms",
    )


async def test_report_to_state_latency(hass: HomeAssistant, socket_enabled: None) -> None:
    """1: 10 000 numbered events; latency of each, none lost, none duplicated."""
    run = await _live_run(hass, EVENTS, recorder=False)
    s = "1 latency"
    record(s, "events emitted", f"{run.sent} at {run.rate:.0f}/s ({INTERVAL * 1000:g} ms)")
    _record_latency(s, run, "recorder off", target=True)
    record(s, "lost events", f"{run.lost}", target="0", met=run.lost == 0)
    record(
        s,
        "duplicated events (state + coordinator)",
        f"{run.duplicates}",
        target="0",
        met=run.duplicates == 0,
    )
    record(s, "HA CPU per 1000 events, recorder off", f"{run.cpu_per_1000:.2f} s")
    record(
        s, f"RSS growth over {run.sent} events, recorder off", f"{run.rss_growth / 1024:.0f} KiB"
    )
    assert run.sent == EVENTS, "the emulator could not emit every event"


_SKIP_WRITTEN = "_bench_written"
"""Where the what-if skip of 6c keeps the (value, available) it last wrote, per sensor."""


def _skip_identical(self: _WhatwattSensor[Any]) -> None:
    """What-if 6c: no state write when value and availability repeat (before issue 11)."""
    value = self._compute()
    self._attr_native_value = value
    state = (value, self.available)
    if getattr(self, _SKIP_WRITTEN, None) == state:
        return
    setattr(self, _SKIP_WRITTEN, state)
    self.async_write_ha_state()


def _combine(runs: list[LiveRun]) -> LiveRun:
    """One run out of several blocks of the same device (sums, and per-event averages)."""
    sent = sum(r.sent for r in runs)
    threads: dict[str, float] = {}
    rows: dict[str, int] = {}
    changed: dict[str, int] = {}
    for run in runs:
        for name, cpu in run.threads.items():
            threads[name] = threads.get(name, 0.0) + cpu
        for entity, count in run.rows.items():
            rows[entity] = rows.get(entity, 0) + count
        for entity, count in run.changed.items():
            changed[entity] = changed.get(entity, 0) + count
    return LiveRun(
        sent=sent,
        rate=sum(r.rate * r.sent for r in runs) / sent,
        latencies_ms=[x for r in runs for x in r.latencies_ms],
        lost=sum(r.lost for r in runs),
        duplicates=sum(r.duplicates for r in runs),
        changes_per_event=sum(r.changes_per_event * r.sent for r in runs) / sent,
        cpu_s=sum(r.cpu_s for r in runs),
        wall_s=sum(r.wall_s for r in runs),
        rss_growth=sum(r.rss_growth for r in runs),
        threads=threads,
        sensors=runs[-1].sensors,
        unchanged_writes=sum(r.unchanged_writes for r in runs),
        live_sensors=runs[-1].live_sensors,
        stale=max(r.stale for r in runs),
        rows=rows,
        rows_last_reported=sum(r.rows_last_reported for r in runs),
        load=(runs[0].load[0], runs[-1].load[1]),
        gauge_ms=sorted(r.gauge_ms for r in runs)[len(runs) // 2],
        submeter_writes=sum(r.submeter_writes for r in runs),
        submeter_readings=sum(r.submeter_readings for r in runs),
        changed=changed,
        windows=sum(r.windows for r in runs),
        tariff_changes=sum(r.tariff_changes for r in runs),
        meter_seconds=sum(r.meter_seconds for r in runs),
    )


def _record_cpu(s: str, label: str, run: LiveRun) -> None:
    """CPU seconds of this machine: set against the vendor's only within one run (6f)."""
    record(s, f"HA CPU per 1000 events ({label})", f"{run.cpu_per_1000:.2f} s")
    record(s, "HA CPU per 1000 events by thread", _by_thread(run))


def _record_rows(s: str, run: LiveRun, label: str = "") -> None:
    """The recorder rows, measured, scaled to a day at one report per second."""
    record(
        s,
        f"recorder state rows per event{label} (measured in the states table)",
        f"{run.rows_per_event:.2f} ({sum(run.rows.values())} rows / {run.sent} events)",
    )
    record(
        s,
        f"recorder state rows per day at 1 report/s{label}",
        f"{run.rows_per_day:,.0f}".replace(",", " "),
        baseline=f"{VENDOR_ROWS_PER_DAY:,}".replace(",", " ")
        + f" (vendor: {VENDOR_STATES_PER_MESSAGE} x 86400)",
        ratio=f"{run.rows_per_day / VENDOR_ROWS_PER_DAY:.2f}x",
    )


def _record_writes(s: str, run: LiveRun, label: str = "") -> None:
    """State writes per event, changed or not, and what HA's ``last_reported`` shows after."""
    changed = run.changes_per_event
    same = run.unchanged_writes / run.sent
    record(
        s,
        f"state writes per event{label}: changed + unchanged (state_reported)",
        f"{changed + same:.1f} = {changed:.1f} + {same:.1f}",
    )
    record(
        s,
        f"rows per event = states changed per event{label} (no row per unchanged write)",
        f"{run.rows_per_event:.2f} = {changed:.2f}",
        target="equal",
        met=abs(run.rows_per_event - changed) < 0.01,
    )
    record(
        s,
        f"rows with last_reported_ts > last_updated_ts{label} (repeats after the row)",
        f"{run.rows_last_reported} of {sum(run.rows.values())}",
    )
    record(
        s,
        f"live sensors whose last_reported is older than the run, at its end{label}",
        f"{run.stale} of {run.live_sensors} (their value repeated all run)",
    )


def _record_load(s: str, run: LiveRun) -> None:
    record(
        s,
        "load average (1 min) at start / end; CPU of a fixed loop (gauge)",
        f"{run.load[0]:.2f} / {run.load[1]:.2f}; {run.gauge_ms:.1f} ms",
    )


@pytest.mark.parametrize(
    ("recorder_config", "what_if"),
    [(RECORD_ALL, None), (RECORD_NO_PHASES, "no-phases"), (RECORD_ALL, "unscaled")],
    ids=["record-all", "no-phases", "record-all-unscaled-commits"],
)
@pytest.mark.usefixtures("socket_enabled")
async def test_cpu_per_1000_events_with_recorder(
    hass: HomeAssistant,
    recorder_config: dict[str, Any],
    what_if: str | None,
    recorder_mock: Any,
) -> None:
    """6: HA CPU time per 1000 events with the recorder writing every state change."""
    if what_if != "unscaled":
        scale_commits(hass)
    run = await _live_run(hass, CPU_EVENTS, recorder=True)
    assert run.sent == CPU_EVENTS, "the emulator could not emit every event"
    if what_if == "no-phases":
        s = "6b what-if"
        record(s, "recorder excludes sensor.*_phase_* (user config)", "per-phase rows not stored")
        _record_cpu(s, "recorder on, phases excluded", run)
        _record_rows(s, run)
        _record_load(s, run)
        return
    if what_if == "unscaled":
        s = "6e upper bound"
        record(
            s,
            f"recorder commits every {COMMIT_S} s of the bench's clock, not of the meter's",
            f"about {COMMIT_S / INTERVAL:.0f} reports per commit (a real commit holds {COMMIT_S})",
        )
        _record_cpu(s, "recorder on, default set, unscaled commits", run)
        _record_rows(s, run)
        _record_latency(s, run, "recorder on, unscaled commits", target=False)
        _record_load(s, run)
        return
    s = "6 HA CPU"
    record(
        s,
        "events emitted",
        f"{run.sent} at {run.rate:.0f}/s, recorder on (sqlite file), a commit every"
        f" {SCALED_COMMIT_S * 1000:.0f} ms ({COMMIT_S} reports, as {COMMIT_S} s at 1 report/s)",
    )
    record(
        s,
        "sensors with a state (default entity set)",
        f"{run.sensors} ({run.live_sensors} live, {run.sensors - run.live_sensors} system)",
    )
    record(s, "sensor states changed per event", f"{run.changes_per_event:.1f}")
    _record_cpu(s, "recorder on, default set", run)
    record(s, "HA CPU load during the run", f"{run.cpu_s / run.wall_s * 100:.0f} % of one core")
    _record_writes(s, run)
    _record_rows(s, run)
    record(s, f"RSS growth over {run.sent} events", f"{run.rss_growth / 1024:.0f} KiB")
    _record_latency(s, run, "recorder on", target=False)
    record(s, "lost / duplicated events, recorder on", f"{run.lost} / {run.duplicates}")
    _record_load(s, run)


def _thread_per_1000(run: LiveRun, name: str) -> float:
    return run.threads.get(name, 0.0) * 1000 / run.sent


@dataclass
class Paired:
    """Blocks of numbered events, alternating skip (what-if) and write all (as shipped)."""

    skip: list[LiveRun] = field(default_factory=list)
    write: list[LiveRun] = field(default_factory=list)
    order: list[LiveRun] = field(default_factory=list)

    def per_block(self) -> str:
        """HA CPU per 1000 events of each block: skip | write all."""
        return (
            " ".join(f"{r.cpu_per_1000:.2f}" for r in self.skip)
            + " | "
            + " ".join(f"{r.cpu_per_1000:.2f}" for r in self.write)
        )


async def _paired(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, *, recorder: bool
) -> Paired:
    """Skip identical writes (what-if) or write every update (as shipped), alternating.

    One HA, one device, a warm-up block (the first block after the setup costs more), then
    blocks alternating A B B A ..., so that both arms see the same machine load. The
    integration is patched here only.
    """
    shipped = _WhatwattSensor._handle_coordinator_update
    always = [False]

    @callback
    def handle(self: _WhatwattSensor[Any]) -> None:
        if always[0]:
            shipped(self)
        else:
            _skip_identical(self)

    # The sensors register the bound method when added: patch before the setup, switch after.
    monkeypatch.setattr(_WhatwattSensor, "_handle_coordinator_update", handle)
    paired = Paired()
    async with _live_device(hass) as dev:
        await _measure(hass, dev, PAIRED_EVENTS, recorder=recorder)  # warm-up, not counted
        for block in range(PAIRED_BLOCKS):
            for arm in (False, True) if block % 2 == 0 else (True, False):
                always[0] = arm
                run = await _measure(hass, dev, PAIRED_EVENTS, recorder=recorder)
                assert run.sent == PAIRED_EVENTS, "the emulator could not emit every event"
                (paired.write if arm else paired.skip).append(run)
                paired.order.append(run)
    return paired


@pytest.mark.parametrize("recorder_config", [RECORD_ALL], ids=["record-all"])
@pytest.mark.usefixtures("socket_enabled")
async def test_identical_writes_what_if(
    hass: HomeAssistant,
    recorder_config: dict[str, Any],
    recorder_mock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """6c: writing identical states (as shipped; last_reported moves) against skipping them."""
    scale_commits(hass)
    paired = await _paired(hass, monkeypatch, recorder=True)
    skip, write = _combine(paired.skip), _combine(paired.write)
    s = "6c what-if"
    record(
        s,
        "identical writes: skipped (what-if, before issue 11) vs written (as shipped)",
        f"{PAIRED_BLOCKS} x {PAIRED_EVENTS} events each, alternating, after a warm-up",
    )
    _record_cpu(s, "recorder on, default set, skip", skip)
    record(
        s,
        "HA CPU per 1000 events (recorder on, default set, write all)",
        f"{write.cpu_per_1000:.2f} s",
        baseline=f"{skip.cpu_per_1000:.2f} s (skip)",
        ratio=f"{write.cpu_per_1000 / skip.cpu_per_1000:.2f}x",
    )
    record(s, "HA CPU per 1000 events by thread, write all", _by_thread(write))
    for name in ("MainThread", "Recorder"):
        a, b = _thread_per_1000(skip, name), _thread_per_1000(write, name)
        record(
            s,
            f"{name} CPU per 1000 events: skip / write all / extra",
            f"{a:.2f} / {b:.2f} / {b - a:+.2f} s",
            ratio=f"{b / a:.2f}x" if a else "",
        )
    record(s, "HA CPU per 1000 events per block: skip | write all", paired.per_block())
    _record_writes(s, skip, ", skip")
    _record_writes(s, write, ", write all")
    _record_rows(s, skip, ", skip")
    _record_rows(s, write, ", write all")
    record(
        s,
        "lost / duplicated events: skip | write all",
        f"{skip.lost} / {skip.duplicates} | {write.lost} / {write.duplicates}",
    )
    _record_load(s, _combine(paired.order))


@pytest.mark.usefixtures("socket_enabled")
async def test_identical_writes_recorder_off(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """6c: the same without the recorder, the event loop's cost of the unchanged writes alone.

    With the recorder on, a garbage collection counts in the thread that triggers it, so CPU
    moves between the event loop and the recorder thread; without it the difference is clean.
    """
    paired = await _paired(hass, monkeypatch, recorder=False)
    skip, write = _combine(paired.skip), _combine(paired.write)
    s = "6c what-if"
    a, b = skip.cpu_per_1000, write.cpu_per_1000
    unchanged = write.unchanged_writes / write.sent
    record(
        s,
        "HA CPU per 1000 events, recorder off: skip / write all / extra",
        f"{a:.2f} / {b:.2f} / {b - a:+.2f} s",
        ratio=f"{b / a:.2f}x",
    )
    record(
        s,
        "extra HA CPU per unchanged write, recorder off",
        f"{(b - a) / unchanged * 1000:.0f} us ({unchanged:.1f} unchanged writes per event)",
    )
    record(
        s, "HA CPU per 1000 events per block, recorder off: skip | write all", paired.per_block()
    )
    record(
        s,
        "GC runs, recorder off: skip | write all",
        f"{sum(len(r.gc_pauses_ms) for r in paired.skip)}"
        f" | {sum(len(r.gc_pauses_ms) for r in paired.write)}",
    )
    _record_load(s, _combine(paired.order))


WITH_SUBMETERS = os.environ.get("BENCH_SUBMETERS", "gas+water")
"""6d: the emulator's gas meter on bus 1 and water meter on bus 2 (DSMR: read every 5 min).

``BENCH_SUBMETERS=none`` runs 6d as a check of the bench itself: two identical devices."""
SUBMETER_OPTIONS = with_kind(
    with_kind({}, 1, Medium.GAS, UnitOfVolume.CUBIC_METERS),
    2,
    Medium.WATER,
    UnitOfVolume.CUBIC_METERS,
)
"""What the user says the two sub-meters are (options flow), so that no repair is raised."""


@dataclass
class Arms:
    """Blocks of numbered events of two devices in one HA, taking turns (A B B A ...)."""

    without: list[LiveRun] = field(default_factory=list)
    """The device without the feature (6d: without sub-meters)."""
    with_: list[LiveRun] = field(default_factory=list)
    """The device with it (6d: with two sub-meters)."""
    order: list[LiveRun] = field(default_factory=list)
    submeter_sensors: int = 0
    """Enabled sensors of the two sub-meters (6d)."""

    def per_block(self) -> str:
        """HA CPU per 1000 events of each block: without | with."""
        return (
            " ".join(f"{r.cpu_per_1000:.2f}" for r in self.without)
            + " | "
            + " ".join(f"{r.cpu_per_1000:.2f}" for r in self.with_)
        )

    @staticmethod
    def spread(runs: list[LiveRun]) -> float:
        """Max - min of the blocks' HA CPU per 1000 events."""
        cpu = [r.cpu_per_1000 for r in runs]
        return max(cpu) - min(cpu)

    def pairs(self) -> str:
        """With - without of each block pair (the two blocks next to each other in time)."""
        return " ".join(
            f"{b.cpu_per_1000 - a.cpu_per_1000:+.2f}"
            for a, b in zip(self.without, self.with_, strict=True)
        )


async def _wake(hass: HomeAssistant, devices: list[LiveDevice]) -> None:
    """One natural event from each device, handled before the next block starts.

    A device waits up to two blocks for its turn; without an event for 30 s HA would count its
    data as lost (unavailable, reconnection) and the next block would pay for it.
    """
    for dev in devices:
        got = asyncio.Event()
        if dev.live is not None:
            unsubs = [dev.live.async_add_listener(got.set)]
        else:  # the vendor's integration: its import-power sensor is written on every message

            @callback
            def power(data: EventStateChangedData | EventStateReportedData, dev: Any = dev) -> bool:
                return bool(data["entity_id"] == dev.power)

            @callback
            def written(_: Event[Any], got: asyncio.Event = got) -> None:
                got.set()

            unsubs = [
                hass.bus.async_listen(kind, written, event_filter=power)
                for kind in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED)
            ]
        try:
            await dev.device.wake(dev.index)
            async with asyncio.timeout(10):
                await got.wait()
        finally:
            for unsub in unsubs:
                unsub()
    await hass.async_block_till_done()


async def _take_turns(
    hass: HomeAssistant,
    without: LiveDevice,
    with_: LiveDevice,
    *,
    recorder: bool,
    events: int = PAIRED_EVENTS,
) -> Arms:
    """Blocks of ``events`` numbered events of two devices in one HA, alternating A B B A ...

    The devices stream until told otherwise: both are paused, each runs a warm-up block of
    PAIRED_EVENTS (not counted), then PAIRED_BLOCKS blocks each; before each block both send
    one natural event (``_wake``).
    """
    arms = Arms()
    devices = [without, with_]
    for dev in devices:
        await dev.device.pause(dev.index)
    for dev in devices:  # warm-up, not counted
        await _wake(hass, devices)
        await _measure(hass, dev, PAIRED_EVENTS, recorder=recorder)
    for block in range(PAIRED_BLOCKS):
        for dev in devices if block % 2 == 0 else devices[::-1]:
            await _wake(hass, devices)
            run = await _measure(hass, dev, events, recorder=recorder)
            assert run.sent == events, "the emulator could not emit every event"
            (arms.with_ if dev is with_ else arms.without).append(run)
            arms.order.append(run)
    return arms


async def _submeter_arms(hass: HomeAssistant, *, recorder: bool) -> Arms:
    """Two devices in one HA: no sub-meter, and gas + water; blocks alternate A B B A ...

    Both devices are set up the same way (default entity set); only their events differ, by the
    two ``Vol`` entries whose ``Cum``/``DT`` repeat until a sub-meter's next reading.  Each
    device runs a warm-up block first (not counted).
    """
    async with _live_devices(
        hass, submeters=["none", WITH_SUBMETERS], options=[{}, SUBMETER_OPTIONS]
    ) as devices:
        bare, metered = devices
        assert not bare.submeter_sensors, "the device without sub-meters has sub-meter sensors"
        if WITH_SUBMETERS == "gas+water":
            assert len(metered.submeter_sensors) == 6, (
                "2 sub-meters: a reading, its time and a flow rate each"
            )
        arms = await _take_turns(hass, bare, metered, recorder=recorder)
        arms.submeter_sensors = len(metered.submeter_sensors)
    return arms


def _verdict(difference: float, spread_a: float, spread_b: float) -> str:
    """Within noise: the difference is smaller than the spread of the blocks of each arm.

    Between the two spreads it is within the noise of one arm only (on this VM a check with two
    identical devices, ``BENCH_SUBMETERS=none``, can land there).
    """
    low, high = sorted((spread_a, spread_b))
    size = abs(difference)
    if size < low:
        return f"within noise (|{difference:+.2f}| < {low:.2f} s, the smaller spread)"
    if size < high:
        return (
            f"within the noise of one arm only (|{difference:+.2f}| >= {low:.2f}, < {high:.2f} s)"
        )
    return f"NOT within noise (|{difference:+.2f}| >= {high:.2f} s, the larger spread)"


def _record_arms_cpu(
    s: str, arms: Arms, label: str, names: tuple[str, str] = ("without", "with"), first: str = ""
) -> None:
    """CPU per 1000 events of the two arms, per block, the spread, the verdict, per thread.

    ``names``: the arms' (without, with); ``first``: the with arm's in the first row.
    """
    without, with_ = _combine(arms.without), _combine(arms.with_)
    a, b = without.cpu_per_1000, with_.cpu_per_1000
    off, on = names
    record(
        s,
        f"HA CPU per 1000 events, {label}: {off} / {first or on} / difference",
        f"{a:.2f} / {b:.2f} / {b - a:+.2f} s",
        ratio=f"{b / a:.2f}x",
    )
    record(s, f"HA CPU per 1000 events per block, {label}: {off} | {on}", arms.per_block())
    record(s, f"{on} - {off}, per pair of neighbouring blocks, {label}", arms.pairs())
    spread_a, spread_b = Arms.spread(arms.without), Arms.spread(arms.with_)
    record(
        s,
        f"noise: spread (max - min) of the blocks of one arm, {label}: {off} / {on}",
        f"{spread_a:.2f} / {spread_b:.2f} s",
    )
    record(
        s,
        f"verdict, {label}",
        _verdict(b - a, spread_a, spread_b),
        target="within noise",
        met=abs(b - a) < min(spread_a, spread_b),
    )
    for name in ("MainThread", "Recorder"):
        x, y = _thread_per_1000(without, name), _thread_per_1000(with_, name)
        if x or y:
            record(
                s,
                f"{name} CPU per 1000 events, {label}: {off} / {on} / difference",
                f"{x:.2f} / {y:.2f} / {y - x:+.2f} s",
            )


def _record_submeter_cpu(s: str, arms: Arms, label: str) -> None:
    """CPU per 1000 events without / with, per block, the spread, and the verdict."""
    _record_arms_cpu(s, arms, label, first="with sub-meters")
    without, with_ = _combine(arms.without), _combine(arms.with_)
    readings = with_.submeter_readings
    record(
        s,
        f"sub-meter sensors' state writes in the blocks, {label} (changed + unchanged)",
        f"{with_.submeter_writes} ({arms.submeter_sensors} sensors, {with_.sent} events,"
        f" {readings} new sub-meter readings)",
        target="<= 2 per new reading",
        met=with_.submeter_writes <= 2 * readings,
    )
    record(
        s,
        f"state writes per event, {label}: without | with (changed + unchanged)",
        f"{without.changes_per_event + without.unchanged_writes / without.sent:.2f}"
        f" | {with_.changes_per_event + with_.unchanged_writes / with_.sent:.2f}",
    )
    record(
        s,
        f"lost / duplicated events, {label}: without | with",
        f"{without.lost} / {without.duplicates} | {with_.lost} / {with_.duplicates}",
    )


@pytest.mark.parametrize("recorder_config", [RECORD_ALL], ids=["record-all"])
@pytest.mark.usefixtures("socket_enabled")
async def test_submeters_cpu(
    hass: HomeAssistant, recorder_config: dict[str, Any], recorder_mock: Any
) -> None:
    """6d: HA CPU per 1000 events with two sub-meters against none, recorder on."""
    scale_commits(hass)
    arms = await _submeter_arms(hass, recorder=True)
    without, with_ = _combine(arms.without), _combine(arms.with_)
    s = "6d sub-meters"
    record(
        s,
        f"without (none) vs with sub-meters ({WITH_SUBMETERS}; Cum/DT repeated in every event)",
        f"2 devices in one HA, {PAIRED_BLOCKS} x {PAIRED_EVENTS} events each,"
        " alternating, after a warm-up",
    )
    record(
        s,
        "sensors with a state (default entity set): without | with",
        f"{without.sensors} | {with_.sensors} ({arms.submeter_sensors} of the sub-meters)",
    )
    _record_submeter_cpu(s, arms, "recorder on")
    record(
        s,
        "recorder state rows per event: without | with",
        f"{without.rows_per_event:.2f} | {with_.rows_per_event:.2f}",
    )
    _record_load(s, _combine(arms.order))


@pytest.mark.usefixtures("socket_enabled")
async def test_submeters_cpu_recorder_off(hass: HomeAssistant) -> None:
    """6d: the same without the recorder (the event loop's share alone)."""
    arms = await _submeter_arms(hass, recorder=False)
    s = "6d sub-meters"
    _record_submeter_cpu(s, arms, "recorder off")
    _record_load(s, _combine(arms.order))
