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

Vendor devices (``--vendor N --mqtt-port P``): N more devices (numbered after the ``--count``
ones, with no HTTP server) that publish each meter report to the MQTT broker on 127.0.0.1:P, as
a whatwatt Go does for the vendor's MQTT integration: the JSON of the vendor's template (its
README), with the values of the SSE event the same reading gives, QoS 0, on topic
``whatwatt/<device id>`` (the hello line adds ``"topics": [...]``).  The same commands drive
them; a numbered event carries ``power_in = (100000 + seq) / 100`` kW (the vendor's sensors keep
two decimals of kW).

Sub-meters: ``--submeters`` once per device (``none``, ``gas``, ``gas+water``, ... as the
emulator's ``EmulatorConfig.submeters``); devices without one get the profile's (DSMR: the gas
meter on bus 1).  Their entries (``Vol``) come with every event, numbered or not, as the
emulator sends them: ``Cum`` and ``DT`` repeat until the sub-meter's next reading (every 5 min
for DSMR) on the meter's clock, which is the wall clock unless ``--clock-speed`` makes it run
faster (``--meter-speed`` alone speeds up the power curve and the registers, not the clock).
``--seed`` gives every device the same meter (the same values event for event; by default
each device's seed is its ID).

The meter's clock: ``--clock-speed X`` runs it (the emulator's ``MeterClock``, with no limit on
how far ahead it gets) X times faster than real time, so that ``Date``/``Time``, the sub-meter
captures and the tariff hours pass as fast as the reports; the power curve and the registers
follow that clock, still at ``--meter-speed`` meter seconds per real second in all.  With
``--clock-speed`` = ``--meter-speed`` = 1/interval every event is a 1 s meter report in every
respect.  ``--tariff-period S``: the tariff (``T``) changes between 1 and 2 every S seconds of
the meter's clock instead of at 07:00 and 22:00 (the register of the tariff that runs counts).

Bench only: it subclasses the emulator, it does not change it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from typing import Any, cast

from whatwatt_emulator import Emulator, EmulatorConfig
from whatwatt_emulator.live import LiveStream
from whatwatt_emulator.meter import MeterSimulator, Reading, Views, VolumeEntry, timestamps
from whatwatt_emulator.profiles import LEAVES, Profile
from whatwatt_emulator.submeters import SubmeterBank
from whatwatt_emulator.world import LoadProgram, MeterClock

SEQ_BASE = 100_000
"""Numbered events carry P_In = (SEQ_BASE + seq) W; natural readings stay far below it."""
VENDOR_SEQ_SCALE = 100
"""Numbered vendor messages carry power_in = (SEQ_BASE + seq) / 100 kW (two decimals survive)."""
VENDOR_TEMPLATE: dict[str, str] = {
    "power_in": "1.7.0",
    "power_out": "2.7.0",
    "power_in_l1": "21.7.0",
    "power_in_l2": "41.7.0",
    "power_in_l3": "61.7.0",
    "power_out_l1": "22.7.0",
    "power_out_l2": "42.7.0",
    "power_out_l3": "62.7.0",
    "energy_in": "1.8.0",
    "energy_out": "2.8.0",
    "energy_in_t1": "1.8.1",
    "energy_in_t2": "1.8.2",
    "energy_out_t1": "2.8.1",
    "energy_out_t2": "2.8.2",
    "voltage_l1": "32.7.0",
    "voltage_l2": "52.7.0",
    "voltage_l3": "72.7.0",
    "current_l1": "31.7.0",
    "current_l2": "51.7.0",
    "current_l3": "71.7.0",
    "power_factor": "13.7.0",
    "apparent_power": "9.7.0",
    "reactive_power_in": "3.7.0",
    "reactive_power_out": "4.7.0",
    "reactive_energy_in": "3.8.0",
    "reactive_energy_out": "4.8.0",
}
"""The vendor's MQTT message (its README's device template): key -> OBIS C.D.E of the value.

Besides these: ``sys_id``, ``meter_id``, ``time`` and ``tariff``.  The template quotes every
value (``"power_in":"${1_7_0}"``), so they are strings.  A key whose OBIS value the meter does
not have is left out, as the README says to do (``add/remove OBIS codes``).
"""


class MeterClockSubmeters(SubmeterBank):
    """A sub-meter bank that captures on the meter's clock (the emulator's uses the wall's)."""

    clock: MeterClock

    def entries(self, now: float) -> tuple[VolumeEntry, ...]:
        """Return the ``Vol`` entries at the meter's time now, whatever ``now`` says."""
        return super().entries(self.clock.world())


class TariffScheduleMeter(MeterSimulator):
    """A meter whose tariff changes every ``period`` seconds of its clock (1, 2, 1, ...)."""

    def __init__(self, profile: Profile, *, seed: int, period: float) -> None:
        """Simulate ``profile`` as the emulator would; only the tariff's schedule differs."""
        super().__init__(profile, seed=seed)
        self.period = period

    def sample(
        self,
        world: float,
        wall: float,
        reading_id: int,
        interval: float,
        *,
        volumes: tuple[VolumeEntry, ...] = (),
        load: LoadProgram | None = None,
    ) -> Reading:
        """Take the emulator's reading; the energy since the last counts in the scheduled tariff."""
        before = dict(self.registers)
        reading = super().sample(world, wall, reading_id, interval, volumes=volumes, load=load)
        tariff = 1 + int(wall // self.period) % 2
        if tariff == reading.tariff:
            return reading
        registers = self.registers
        for kind in ("e_in", "e_out"):
            natural, scheduled = f"{kind}_t{reading.tariff}", f"{kind}_t{tariff}"
            registers[scheduled] += registers[natural] - before[natural]
            registers[natural] = before[natural]
        values = {**reading.values, **registers}
        return dataclasses.replace(reading, tariff=tariff, values=values)


class StampingEmulator(Emulator):
    """An emulator whose live events can be numbered and stamped."""

    seq_scale = 1000
    """A numbered event carries P_In = (SEQ_BASE + seq) / seq_scale kW."""

    def __init__(self, config: EmulatorConfig) -> None:
        """Start in normal mode (natural readings, no stamps)."""
        super().__init__(config)
        # The sub-meters capture on the meter's clock: the wall's as long as it runs at 1x.
        self._submeters.__class__ = MeterClockSubmeters
        cast(MeterClockSubmeters, self._submeters).clock = self.clock
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
        values["p_in"] = (SEQ_BASE + seq) / self.seq_scale
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


class VendorViews(Views):
    """Each reading as the vendor's MQTT message: the SSE event's values, renamed by OBIS code."""

    def __init__(self, profile: Profile, device_id: str) -> None:
        """Map each key of the vendor's template to the SSE key of the same OBIS value."""
        super().__init__(profile)
        self.device_id = device_id
        by_obis = {LEAVES[leaf][2]: LEAVES[leaf][1] for leaf in profile.leaves}
        self.keys = {key: by_obis[obis] for key, obis in VENDOR_TEMPLATE.items() if obis in by_obis}

    def event(self, reading: Reading, uptime_s: float) -> bytes:
        """Return the MQTT payload of a reading (JSON, the values as strings)."""
        sse = json.loads(super().event(reading, uptime_s).split(b"data: ", 1)[1])
        message = {
            "sys_id": self.device_id,
            "meter_id": self.profile.meter_id,
            "time": timestamps(reading.wall)["date_time_utc"],
            **{key: str(sse[sse_key]) for key, sse_key in self.keys.items()},
            "tariff": str(sse["T"]),
        }
        return json.dumps(message).encode()


def _remaining_length(size: int) -> bytes:
    out = bytearray()
    while True:
        size, byte = divmod(size, 128)
        out.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(out)


def _string(text: bytes) -> bytes:
    return len(text).to_bytes(2, "big") + text


class MqttSink(LiveStream):
    """The device's MQTT client (3.1.1, QoS 0, no keep-alive): each write is one PUBLISH.

    It stands where the SSE stream is for ``send_reading``; no HTTP request is behind it.
    """

    def __init__(self, topic: str) -> None:
        """Publish to ``topic`` once connected (no ``super().__init__``: no HTTP response)."""
        self.topic = topic.encode()
        self.last_id = -1
        self.sent = 0
        self.closed = False
        self.cut = False
        self._wake = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int, client_id: str) -> None:
        """Connect to the broker on 127.0.0.1:``port`` (clean session); wait for its CONNACK."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = _string(b"MQTT") + bytes([4, 0x02, 0, 0]) + _string(client_id.encode())
        writer.write(b"\x10" + _remaining_length(len(body)) + body)
        await writer.drain()
        connack = await reader.readexactly(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"the MQTT broker refused the connection: {connack.hex()}")
        self._writer = writer

    @property
    def gone(self) -> bool:
        """Return True when the connection to the broker is closed."""
        return self.closed or self._writer is None or self._writer.is_closing()

    async def write(self, payload: bytes) -> bool:
        """Publish ``payload`` (QoS 0); return False when the connection is gone."""
        if self.gone:
            return False
        assert self._writer is not None
        body = _string(self.topic) + payload
        try:
            self._writer.write(b"\x30" + _remaining_length(len(body)) + body)
            await self._writer.drain()
        except ConnectionError:
            self.closed = True
            return False
        return True

    async def disconnect(self) -> None:
        """Say goodbye to the broker and close the connection."""
        self.closed = True
        if self._writer is not None:
            self._writer.write(b"\xe0\x00")
            self._writer.close()
            await self._writer.wait_closed()


class VendorDevice(StampingEmulator):
    """A device that publishes its meter reports over MQTT, for the vendor's integration."""

    seq_scale = VENDOR_SEQ_SCALE

    def __init__(self, config: EmulatorConfig) -> None:
        """Render the readings as the vendor's message."""
        super().__init__(config)
        self.views = VendorViews(self.profile, config.device_id)

    async def publish(self, sink: MqttSink) -> None:
        """Publish every meter report to ``sink`` (as the SSE route streams them) until gone."""
        self.attach_stream(sink)
        while not sink.gone:
            reading = self.reading()
            if reading is not None:
                await self.send_reading(sink, reading)
            await sink.wait(self.next_due())


def _print(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _device(args: argparse.Namespace, index: int) -> StampingEmulator:
    """Device ``index`` as the arguments describe it (not started)."""
    device_id = f"B0B0{index:08X}"
    submeters: list[str] = args.submeters or []
    config = EmulatorConfig(
        device_id=device_id,
        password=args.password,
        licence=args.licence,
        report_interval=args.interval,
        log_limit=100_000,
        submeters=submeters[index] if index < len(submeters) else None,
        seed=args.seed,
    )
    emu = StampingEmulator(config) if index < args.count else VendorDevice(config)
    if args.tariff_period:  # before the first reading
        seed = args.seed if args.seed is not None else int(device_id, 16)
        emu.meter = TariffScheduleMeter(emu.profile, seed=seed, period=args.tariff_period)
    emu.clock.set(speed=args.clock_speed)
    emu.meter.speed = args.meter_speed / args.clock_speed
    return emu


async def _main(args: argparse.Namespace) -> None:
    emulators: list[StampingEmulator] = []
    sinks: list[MqttSink] = []
    publishing: list[asyncio.Task[None]] = []
    for index in range(args.count + args.vendor):
        emu = _device(args, index)
        if isinstance(emu, VendorDevice):
            device_id = emu.config.device_id
            sink = MqttSink(f"whatwatt/{device_id}")
            await sink.connect(args.mqtt_port, f"bench-{device_id}")
            sinks.append(sink)
            publishing.append(asyncio.create_task(emu.publish(sink)))
        else:
            await emu.start(host="127.0.0.1", port=0)
        emulators.append(emu)
    _print(
        {
            "ports": [e.port for e in emulators[: args.count]],
            "ids": [e.config.device_id for e in emulators],
            "topics": [sink.topic.decode() for sink in sinks],
        }
    )
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
        for sink in sinks:
            await sink.disconnect()
            sink.wake()
        await asyncio.gather(*publishing, return_exceptions=True)
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
    parser.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        help="the meter's clock runs this many times faster than real time (1 to 3600)",
    )
    parser.add_argument(
        "--tariff-period",
        type=float,
        default=None,
        help="the tariff changes (1, 2, 1, ...) every this many seconds of the meter's clock",
    )
    parser.add_argument(
        "--vendor", type=int, default=0, help="devices that publish over MQTT (vendor format)"
    )
    parser.add_argument("--mqtt-port", type=int, default=1883, help="the broker on 127.0.0.1")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
