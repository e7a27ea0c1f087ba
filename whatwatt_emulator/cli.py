"""Command line: run an emulated whatwatt Go."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import json
import logging
import signal
import sys

from .config import LICENCES, METERS, EmulatorConfig
from .emulator import Emulator
from .profiles import SCENARIOS
from .submeters import PRESETS
from .world import LoadProgram, MeterClock


def parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m whatwatt_emulator",
        description="Emulate a whatwatt Go smart-meter gateway (HTTP API, SSE, mDNS).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (0 = any free port)")
    p.add_argument("--password", default=None, help="Web UI password (turns protection on)")
    p.add_argument("--device-id", default="A842E39F8124", help="12 hex digits")
    p.add_argument("--licence", "--license", type=str.upper, choices=LICENCES, default="FREE")
    p.add_argument("--firmware", default="1.10.0", help="< 1.10 answers Basic instead of Digest")
    p.add_argument("--meter", choices=METERS, default="dsmr")
    p.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default=None,
        help="a meter the gateway is set up wrong for (sets --meter): "
        + "; ".join(f"{name}: {s.description}" for name, s in sorted(SCENARIOS.items())),
    )
    p.add_argument("--report-interval", type=float, default=1.0, help="meter report period (s)")
    p.add_argument("--reboot-downtime", type=float, default=2.0, help="offline time of a reboot")
    p.add_argument(
        "--recognition-time",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="meter.status stays RECOGNITION (no data) this long after a meter-settings change "
        "of the link (serial, interface, protocol, security, scalers_set); 0 = no such phase",
    )
    p.add_argument(
        "--submeters",
        default=None,
        metavar="SPEC",
        help=f"sub-meters on the meter's M-Bus: {', '.join(PRESETS)} (default: the profile's, "
        "dsmr gas on bus 1, dlms none), or BUS:MEDIUM[:M_ID[:INTERVAL]] items separated by "
        "commas, MEDIUM gas, water or heat, e.g. 1:gas,2:water:31207754:900",
    )
    p.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="the meter's world runs this many times faster than real time (demand windows "
        "pass quickly), until it is --clock-ahead seconds ahead",
    )
    p.add_argument(
        "--clock-ahead",
        type=float,
        default=None,
        metavar="SECONDS",
        help="run fast only until this far ahead of real time (default: no limit)",
    )
    p.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the meter's own clock against the world's (-3600: kept in standard time)",
    )
    p.add_argument(
        "--load",
        default=None,
        metavar="KW|JSON",
        help="the import power instead of the simulated curve: kW, or steps as JSON, e.g. "
        '\'{"steps": [[300, 3.0], [600, 0.8]], "repeat": true}\'',
    )
    p.add_argument("--nonce-lifetime", type=float, default=300.0, help="Digest nonce lifetime")
    p.add_argument("--realm", default=None, help="Digest realm (default whatwatt-XXXXXX.local)")
    p.add_argument("--meter-key", default=None, help="DLMS key the simulated meter uses")
    p.add_argument("--qop", default="auth,auth-int", help="Digest qop offered")
    p.add_argument("--latency", type=float, default=0.0, help="fault: seconds added to answers")
    p.add_argument("--mdns", action="store_true", help="announce over mDNS on --host only")
    p.add_argument("--admin", action="store_true", help="enable /_emulator/ admin endpoints")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request (no bodies)")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Build the config from parsed arguments."""
    extra = {"meter_key": args.meter_key} if args.meter_key else {}
    return EmulatorConfig(
        device_id=args.device_id,
        password=args.password,
        firmware=args.firmware,
        licence=args.licence,
        meter=args.meter,
        report_interval=args.report_interval,
        reboot_downtime=args.reboot_downtime,
        recognition_time=args.recognition_time,
        nonce_lifetime=args.nonce_lifetime,
        realm=args.realm,
        admin=args.admin,
        mdns=args.mdns,
        digest_qop=args.qop,
        submeters=args.submeters,
        scenario=args.scenario,
        **extra,
    )


async def run(
    config: EmulatorConfig,
    host: str,
    port: int,
    latency: float = 0.0,
    *,
    stop: asyncio.Event | None = None,
    world: Callable[[Emulator], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or until ``stop`` is set)."""
    signals: tuple[signal.Signals, ...] = ()
    if stop is None:
        stop = asyncio.Event()
        signals = (signal.SIGINT, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    emu = Emulator(config)
    emu.faults.latency = latency
    if world is not None:
        world(emu)
    try:
        await emu.start(host=host, port=port)
    except BaseException:
        for sig in signals:
            loop.remove_signal_handler(sig)
        raise
    auth = ("digest" if config.uses_digest else "basic") if config.password else "none"
    print(
        f"whatwatt emulator {config.device_id} ({config.meter}, {config.licence}, "
        f"FW {config.firmware}, auth {auth}) at {emu.url}",
        flush=True,
    )
    buses = [
        f"bus {m['bus']} {m['medium']} {m['meter_id']} every {m['interval']:g} s"
        for m in emu.submeters()
    ]
    print(f"sub-meters: {', '.join(buses) or 'none'}", flush=True)
    if emu.mdns is not None:
        print(f"mdns announced on interfaces: {','.join(emu.mdns.interfaces())}", flush=True)
        print(f"mdns sockets bound to: {','.join(emu.mdns.bound_addresses())}", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await emu.stop()
        print("stopped", flush=True)


def world_from_args(args: argparse.Namespace) -> Callable[[Emulator], None]:
    """Check the clock and load arguments; return what sets them on an emulator.

    ValueError for a bad one.
    """
    load: dict[str, object] | None = None
    if args.load is not None:
        try:
            load = {"power": float(args.load)}
        except ValueError:
            parsed = json.loads(args.load)
            if not isinstance(parsed, dict):
                raise TypeError("--load is kW or a JSON object") from None
            load = parsed
        LoadProgram.parse(load, 0.0)
    MeterClock().set(offset=args.clock_offset, speed=args.clock_speed, ahead=args.clock_ahead)

    def apply(emu: Emulator) -> None:
        emu.clock.set(offset=args.clock_offset, speed=args.clock_speed, ahead=args.clock_ahead)
        emu.set_load(load)

    return apply


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
        world = world_from_args(args)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(config, args.host, args.port, args.latency, world=world))
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
