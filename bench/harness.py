"""Helpers shared by the benchmarks: emulator processes, config entries, process figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
import gc
import json
import os
from pathlib import Path
import resource
import shutil
import socket
import sys
import threading
import time
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt.const import DOMAIN

_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads: loop, recorder, executor)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes(collect: bool = True) -> int:
    """Resident set size of this process now (after a full garbage collection)."""
    if collect:
        gc.collect()
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * _PAGE


def gauge_ms() -> float:
    """CPU time of a fixed pure-Python loop now (median of 5), a gauge of the machine's speed.

    On a shared VM the same work costs more CPU time when other jobs run (shared caches and
    cores): the CPU figures of a run are comparable with another run's in proportion to this.
    """
    times = []
    for _ in range(5):
        start = time.thread_time()
        total = 0
        for i in range(200_000):
            total += i * i % 7
        times.append((time.thread_time() - start) * 1000)
    return sorted(times)[2]


def thread_cpu() -> dict[str, float]:
    """CPU seconds per thread of this process, by thread name (same names summed)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), "other")
        if name.startswith(("ThreadPoolExecutor", "SyncWorker", "asyncio_")):
            name = "executor"
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


@dataclass
class EmitterProcess:
    """Emulated devices served by ``bench.emitter`` in a child process."""

    proc: asyncio.subprocess.Process
    ports: list[int]
    ids: list[str]
    topics: list[str]
    """The MQTT topics of the vendor devices (numbered after the others)."""

    async def _send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()

    async def run(self, events: int, device: int = 0) -> list[float]:
        """Have ``device`` emit ``events`` numbered events; return their emission stamps."""
        await self._send({"cmd": "run", "events": events, "device": device})
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        answer = json.loads(line)
        stamps: list[float] = answer["stamps"]
        return stamps

    async def pause(self, device: int) -> None:
        """Have ``device`` fall silent now (as after a run), until its next run."""
        await self._send({"cmd": "pause", "device": device})
        assert self.proc.stdout is not None
        await self.proc.stdout.readline()

    async def wake(self, device: int) -> None:
        """Have ``device`` (silent after a run) send one natural event now."""
        await self._send({"cmd": "wake", "device": device})
        assert self.proc.stdout is not None
        await self.proc.stdout.readline()


@asynccontextmanager
async def emitter(
    count: int = 1,
    *,
    interval: float = 1.0,
    password: str | None = None,
    licence: str = "FREE",
    meter_speed: float = 1.0,
    clock_speed: float = 1.0,
    tariff_period: float | None = None,
    submeters: list[str] | None = None,
    seed: int | None = None,
    vendor: int = 0,
    mqtt_port: int = 0,
) -> AsyncIterator[EmitterProcess]:
    """Start ``count`` emulated devices in a child process; stop them afterwards.

    ``submeters``: the sub-meters of the first devices, one item each (``none``, ``gas+water``,
    ...); the others have the profile's (DSMR: a gas meter on bus 1).  ``seed``: the same
    meter (values, sub-meter consumption) on every device; by default each has its own.
    ``vendor``: that many more devices, publishing to the MQTT broker on 127.0.0.1:``mqtt_port``
    in the vendor's format (``bench.emitter``).  ``clock_speed``: the meters' clocks run that
    many times faster than real time; ``tariff_period``: their tariff changes every that many
    seconds of their clock (``bench.emitter``).
    """
    args = ["-m", "bench.emitter", "--count", str(count), "--interval", str(interval)]
    if vendor:
        args += ["--vendor", str(vendor), "--mqtt-port", str(mqtt_port)]
    args += ["--meter-speed", str(meter_speed), "--clock-speed", str(clock_speed)]
    if tariff_period:
        args += ["--tariff-period", str(tariff_period)]
    args += ["--licence", licence]
    for item in submeters or []:
        args += ["--submeters", item]
    if seed is not None:
        args += ["--seed", str(seed)]
    if password:
        args += ["--password", password]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=64 * 1024 * 1024,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            hello = json.loads(await proc.stdout.readline())
        yield EmitterProcess(proc, hello["ports"], hello["ids"], hello["topics"])
    finally:
        if proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.write(b'{"cmd": "quit"}\n')
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


def mosquitto_binary() -> str | None:
    """Return the path of Debian's mosquitto (in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/bin")
    return found or None


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Broker:
    """A running MQTT broker (a child process)."""

    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time of the broker process so far."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def mosquitto(binary: str, workdir: Path) -> AsyncIterator[Broker]:
    """Run a mosquitto broker on 127.0.0.1 and a free port until the end of the block.

    Its config and log are in ``workdir``: anonymous clients, no persistence, loopback only.
    """
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "log_dest stderr\nlog_type error\nlog_type warning\n",
        encoding="ascii",
    )
    log_path = workdir / "mosquitto.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            binary, "-c", str(conf), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        for _ in range(100):  # up to 5 s for it to listen
            if proc.returncode is not None:
                break
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        else:
            raise RuntimeError(f"mosquitto does not listen on 127.0.0.1:{port}")
        if proc.returncode is not None:
            log_text = log_path.read_text(errors="replace")
            raise RuntimeError(f"mosquitto exited ({proc.returncode}): {log_text}")
        yield Broker(port, proc.pid)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


def add_entry(
    hass: HomeAssistant,
    port: int,
    device_id: str,
    password: str | None = None,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """Add (not set up) a config entry for the device on 127.0.0.1:port."""
    data: dict[str, Any] = {CONF_HOST: "127.0.0.1", CONF_PORT: port}
    if password:
        data[CONF_PASSWORD] = password
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=device_id,
        data=data,
        options=options or {},
        title=f"whatwatt {device_id[-6:]}",
    )
    entry.add_to_hass(hass)
    return entry


def entity_id(hass: HomeAssistant, device_id: str, key: str) -> str:
    """Return the entity id of a whatwatt entity by its description key."""
    registry = er.async_get(hass)
    found = registry.async_get_entity_id("sensor", DOMAIN, f"{device_id}_{key}")
    assert found is not None, f"no sensor {key} for {device_id}"
    return found


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _count_rows(
    hass: HomeAssistant, entity_ids: set[str], since: float
) -> dict[str, tuple[int, int]]:
    """Rows of the recorder's ``states`` table per entity, updated at ``since`` or later.

    Per entity: (rows, rows whose ``last_reported_ts`` is later than their ``last_updated_ts``,
    i.e. the state was written again unchanged after it: no new row, the recorder updates the
    existing one).
    """
    # Imported here: only the parts with the recorder on use them.
    from homeassistant.components.recorder.db_schema import States, StatesMeta  # noqa: PLC0415
    from homeassistant.helpers.recorder import session_scope  # noqa: PLC0415
    from sqlalchemy import case, func, select  # noqa: PLC0415

    reported = case((States.last_reported_ts > States.last_updated_ts, 1), else_=0)
    query = (
        select(StatesMeta.entity_id, func.count(), func.sum(reported))
        .join(States, States.metadata_id == StatesMeta.metadata_id)
        .where(StatesMeta.entity_id.in_(entity_ids), States.last_updated_ts >= since)
        .group_by(StatesMeta.entity_id)
    )
    with session_scope(hass=hass, read_only=True) as session:
        return {str(eid): (int(n), int(rep or 0)) for eid, n, rep in session.execute(query)}


async def recorder_committed(hass: HomeAssistant) -> None:
    """Wait until the recorder has processed its queue and committed what it holds."""
    from homeassistant.helpers.recorder import get_instance  # noqa: PLC0415

    await get_instance(hass).async_block_till_done()


async def recorded_rows(
    hass: HomeAssistant, entity_ids: set[str], since: float
) -> dict[str, tuple[int, int]]:
    """Count the committed state rows of ``entity_ids`` since ``since`` (a Unix time)."""
    from homeassistant.helpers.recorder import get_instance  # noqa: PLC0415

    return await get_instance(hass).async_add_executor_job(_count_rows, hass, entity_ids, since)
