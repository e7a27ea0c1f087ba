"""Emulated devices in a process of their own, with every live event stamped.

The benchmark's Home Assistant runs in the pytest process; the devices run here, so that the
HA process's CPU time and memory are HA's alone (as with a real gateway on the network).

Protocol (JSON lines): on start this prints ``{"ports": [...], "ids": [...]}``.  Then, on stdin:

* ``{"cmd": "run", "events": N, "device": D}``: device D (default 0) emits the next N live
  events as a numbered run: event ``seq`` (1..N) carries ``P_In = (100000 + seq) / 1000`` kW (a
  value no natural reading reaches), so the HA state of the import-power sensor tells which
  event it came from.  Every emission is stamped with ``time.monotonic()`` (CLOCK_MONOTONIC,
  the same clock in every process) just before the bytes go to the socket.  After the run the
  device sends nothing more and this prints ``{"stamps": [...], "sent": N}``.  A next run
  numbers from 1 again.
* ``{"cmd": "wake", "device": D}``: device D, silent after a run, sends one natural (not
  numbered) event now and falls silent again; this prints ``{"woken": D}``.  It keeps the
  stream of a device that waits for its next run from going stale in HA (no event for 30 s).
* ``{"cmd": "pause", "device": D}``: device D falls silent now (as after a run); this prints
  ``{"paused": D}``.  Devices that take turns are paused first, so that only one sends.
* ``{"cmd": "quit"}``: stop every device and exit.

Sub-meters: ``--submeters`` once per device (``none``, ``gas``, ``gas+water``, ... as the
emulator's ``EmulatorConfig.submeters``); devices without one get the profile's (DSMR: the gas
meter on bus 1).  Their entries (``Vol``) come with every event, numbered or not, as the
emulator sends them: ``Cum`` and ``DT`` repeat until the sub-meter's next reading, on the wall
clock (every 5 min for DSMR), not on the meter's faster clock of ``--meter-speed``.
``--seed`` gives every device the same meter (the same values event for event; by default
each device's seed is its ID).

Bench only: it subclasses the emulator, it does not change it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from typing import Any

from whatwatt_emulator import Emulator, EmulatorConfig
from whatwatt_emulator.live import LiveStream
from whatwatt_emulator.meter import Reading

SEQ_BASE = 100_000
"""Numbered events carry P_In = (SEQ_BASE + seq) W; natural readings stay far below it."""


class StampingEmulator(Emulator):
    """An emulator whose live events can be numbered and stamped."""

    def __init__(self, config: EmulatorConfig) -> None:
        """Start in normal mode (natural readings, no stamps)."""
        super().__init__(config)
        self.run_left = 0
        self.run_seq = 0
        self.paused = False
        self.stamps: list[float] = []
        self.run_done: asyncio.Event = asyncio.Event()

    def arm(self, events: int) -> None:
        """Number and stamp the next ``events`` events, then fall silent (until the next run)."""
        self.stamps = []
        self.run_seq = 0
        self.run_left = events
        self.run_done.clear()
        self.paused = False

    async def send_reading(self, stream: LiveStream, reading: Reading) -> None:
        """Send a reading; during a run, number it and stamp the emission."""
        if self.paused or reading.id == stream.last_id:
            return
        if not self.run_left:
            await super().send_reading(stream, reading)
            return
        stream.last_id = reading.id
        seq = self.run_seq + 1
        values = dict(reading.values)
        values["p_in"] = (SEQ_BASE + seq) / 1000.0
        numbered = dataclasses.replace(reading, values=values)
        payload = self.views.event(numbered, self.uptime())
        self.stamps.append(time.monotonic())
        if not await stream.write(payload):
            self.stamps.pop()
            return
        stream.sent += 1
        self.run_seq = seq
        self.run_left -= 1
        if not self.run_left:
            self.paused = True
            self.run_done.set()

    async def wake(self) -> None:
        """Send one natural event now (outside a run); the device stays silent otherwise."""
        reading = self.reading(force=True)
        if reading is not None and self.stream is not None:
            await super().send_reading(self.stream, reading)  # past the pause, this one only


def _print(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _main(args: argparse.Namespace) -> None:
    emulators: list[StampingEmulator] = []
    submeters: list[str] = args.submeters or []
    for index in range(args.count):
        device_id = f"B0B0{index:08X}"
        emu = StampingEmulator(
            EmulatorConfig(
                device_id=device_id,
                password=args.password,
                licence=args.licence,
                report_interval=args.interval,
                log_limit=100_000,
                submeters=submeters[index] if index < len(submeters) else None,
                seed=args.seed,
            )
        )
        emu.meter.speed = args.meter_speed
        await emu.start(host="127.0.0.1", port=0)
        emulators.append(emu)
    _print({"ports": [e.port for e in emulators], "ids": [e.config.device_id for e in emulators]})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command = json.loads(line)
            if command["cmd"] == "quit":
                break
            if command["cmd"] == "run":
                emu = emulators[int(command.get("device", 0))]
                emu.arm(int(command["events"]))
                await emu.run_done.wait()
                _print({"stamps": emu.stamps, "sent": emu.run_seq})
            elif command["cmd"] == "pause":
                device = int(command["device"])
                emulators[device].paused = True
                _print({"paused": device})
            elif command["cmd"] == "wake":
                device = int(command["device"])
                await emulators[device].wake()
                _print({"woken": device})
    finally:
        for emu in emulators:
            await emu.stop()


def main() -> None:
    """Parse the arguments and serve until told to quit (or stdin closes)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--password", default=None)
    parser.add_argument("--licence", default="FREE")
    parser.add_argument("--seed", type=int, default=None, help="the same meter on every device")
    parser.add_argument(
        "--submeters",
        action="append",
        help="sub-meters of the next device (once per device; none, gas, gas+water, ...)",
    )
    parser.add_argument(
        "--meter-speed",
        type=float,
        default=1.0,
        help="meter seconds per real second (1/interval: every event is a 1 s meter report)",
    )
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
