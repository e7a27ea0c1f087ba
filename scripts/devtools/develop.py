"""`scripts/develop`: the emulator and a real Home Assistant with this integration, in one command.

Default: the emulator listens on 127.0.0.1 and the device is added to HA by host, over HA's
config-flow API, so it is there at once.  `--discovery` (root): HA and the emulator run in two
network namespaces joined by a veth pair, the device is found over mDNS (nothing is added for
you), and HA's UI is forwarded to 127.0.0.1.  Ctrl-C stops everything this command started.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import signal
import subprocess
import sys
import time
from types import FrameType

from . import haapi
from .forward import Forwarder
from .hass import REPO, Hass, link_custom_components, set_discovery, set_network_adapters
from .netns import Lab, is_root

CONFIG = REPO / "config"
EMU_CLOCK_SPEED = 15.0
"""A 15-minute demand window passes in a minute, the first complete one within two."""
EMU_CLOCK_AHEAD = 1800.0
"""Then the meter's clock runs at real pace, half an hour ahead (trusted: within an hour)."""
EMU_PASSWORD = "whatwatt-emu"  # noqa: S105 - the emulator's Web UI password, printed on start
EMU_RECOGNITION_TIME = 5.0  # a meter-link settings change: RECOGNITION this long, as on a device
EMU_SUBMETERS = "gas"  # the DSMR meter's gas meter on bus 1, read every 5 minutes


def say(msg: str) -> None:
    """Print a progress line."""
    print(f"[develop] {msg}", flush=True)


class Stop(Exception):
    """Ctrl-C / SIGTERM."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def start_emulator(a: argparse.Namespace, lab: Lab | None) -> subprocess.Popen[bytes] | None:
    """Start `python -m whatwatt_emulator` (in the device namespace with --discovery)."""
    if importlib.util.find_spec("whatwatt_emulator") is None:
        say("whatwatt_emulator is not in this tree yet: starting Home Assistant without a device")
        return None
    host = lab.dev_ip if lab else "127.0.0.1"
    cmd = [sys.executable, "-m", "whatwatt_emulator", "--host", host, "--port", str(a.emu_port)]
    cmd += ["--password", a.emu_password, "--admin"]
    cmd += ["--recognition-time", str(a.emu_recognition_time)]
    cmd += ["--submeters", a.emu_submeters]
    cmd += ["--clock-speed", str(a.emu_clock_speed), "--clock-ahead", str(EMU_CLOCK_AHEAD)]
    if lab:
        cmd = [*lab.exec_prefix(lab.dev), *cmd, "--mdns"]
    log = (CONFIG / "emulator.out").open("ab")
    proc = subprocess.Popen(  # noqa: S603
        cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    log.close()
    say(
        f"emulator: http://{host}:{a.emu_port}  password {a.emu_password!r}"
        f"  meter recognition {a.emu_recognition_time:g} s  sub-meters {a.emu_submeters}"
        f"  meter clock x{a.emu_clock_speed:g} for its first {EMU_CLOCK_AHEAD / 60:g} min"
        "  (log config/emulator.out)"
    )
    return proc


def add_device_by_host(s: haapi.Session, a: argparse.Namespace) -> None:
    """Make sure HA has the emulator as a config entry: add it, or point the existing one at it.

    An entry left by `--discovery` points at the namespace address; the integration's
    reconfigure flow moves it to 127.0.0.1 (same device id, so entities and history stay).
    """
    values = {"host": f"127.0.0.1:{a.emu_port}", "password": a.emu_password}
    entries = s.entries("whatwatt")
    if not entries:
        res = haapi.run_config_flow(s, "whatwatt", values)
        say(f"added the device to HA: {res.get('title') or res.get('reason')}")
        return
    entry = entries[0]
    settled = ("loaded", "setup_error", "setup_retry", "not_loaded", "failed_unload")
    for _ in range(60):
        if entry["state"] in settled and entry["state"] != "not_loaded":
            break
        time.sleep(0.5)
        entry = next(
            (e for e in s.entries("whatwatt") if e["entry_id"] == entry["entry_id"]), entry
        )
    if entry["state"] == "loaded":
        say(f"the device is set up in HA already: {entry['title']}")
        return
    res = haapi.run_config_flow(s, "whatwatt", values, reconfigure=entry["entry_id"])
    say(f"pointed {entry['title']} ({entry['state']}) at the emulator: {res.get('reason')}")


def parse_args() -> argparse.Namespace:
    """Command line."""
    ap = argparse.ArgumentParser(prog="scripts/develop", description=__doc__.split("\n")[0])
    ap.add_argument("--discovery", action="store_true", help="netns + mDNS discovery (root)")
    ap.add_argument("--port", type=int, default=8123, help="HA port on 127.0.0.1")
    ap.add_argument("--emu-port", type=int, default=None, help="emulator port (8080; 80 in netns)")
    ap.add_argument("--emu-password", default=EMU_PASSWORD)
    ap.add_argument(
        "--emu-recognition-time",
        type=float,
        default=EMU_RECOGNITION_TIME,
        help="seconds the emulated gateway shows RECOGNITION after a meter-link settings change",
    )
    ap.add_argument(
        "--emu-submeters",
        default=EMU_SUBMETERS,
        help="sub-meters behind the emulated meter: none, gas, gas+water, gas+water+heat or "
        "BUS:MEDIUM[:M_ID[:INTERVAL]],... (e.g. 1:gas::60 reads the gas meter every minute)",
    )
    ap.add_argument(
        "--emu-clock-speed",
        type=float,
        default=EMU_CLOCK_SPEED,
        help="the emulated meter's clock runs this much faster until it is 30 minutes ahead, so "
        "demand windows complete within minutes (1: real time)",
    )
    ap.add_argument("--no-emulator", action="store_true")
    ap.add_argument("--reset", action="store_true", help="forget HA's state (users, entries)")
    a = ap.parse_args()
    if a.emu_port is None:
        a.emu_port = 80 if a.discovery else 8080
    return a


def prepare_config(a: argparse.Namespace) -> bool:
    """Prepare config/; return True for a first start (no state yet)."""
    if a.reset:
        for p in CONFIG.iterdir():
            if p.name != "configuration.yaml":
                subprocess.run(["rm", "-rf", str(p)], check=True)  # noqa: S603, S607
    first = not (CONFIG / ".storage" / "auth").exists()
    link_custom_components(CONFIG)
    set_discovery(CONFIG, enabled=a.discovery)
    set_network_adapters(CONFIG, ["veth-ha"] if a.discovery else ["lo"])
    return first


def main() -> int:  # noqa: PLR0912, PLR0915 - one linear story, kept in one place
    """Run until Ctrl-C."""
    a = parse_args()
    if a.discovery and not is_root():
        say("--discovery needs root (it creates network namespaces); run it with sudo")
        return 2
    first = prepare_config(a)
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "scripts.devtools.prefetch", "--config", str(CONFIG)],  # noqa: S603
                   check=True, cwd=REPO)  # fmt: skip
    lab = Lab() if a.discovery else None
    emu = hass = fwd = None
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        if lab:
            lab.up()
            say(f"network namespaces {lab.ha} ({lab.ha_ip}) <-veth-> {lab.dev} ({lab.dev_ip})")
        emu = None if a.no_emulator else start_emulator(a, lab)
        hass = Hass(CONFIG, a.port, prefix=lab.exec_prefix(lab.ha) if lab else ())
        hass.start()
        say(f"Home Assistant starting ({'first' if first else 'warm'} start), log config/hass.out")
        if lab:
            fwd = Forwarder(lab.ha, a.port)
            fwd.start()
            fwd.ready.wait(10)
            if fwd.error:
                raise fwd.error
        http_s = hass.wait_http()
        init_s = hass.wait_log("Home Assistant initialized in")
        s = haapi.onboard(hass.url)
        if emu and not lab:
            add_device_by_host(s, a)
        ready = time.monotonic() - t0
        say(
            f"HTTP up after {http_s:.1f} s, initialized after {init_s:.1f} s,"
            f" ready after {ready:.1f} s"
        )
        print(
            f"""
  Home Assistant: {hass.url}   user {haapi.DEV_USER!r}  password {haapi.DEV_PASSWORD!r}
  Integration loaded from {REPO / "custom_components"} (config/custom_components is a symlink).
  Next: Settings -> Devices & services -> whatwatt Go"""
            + (" (under 'Discovered': Add, password " + repr(a.emu_password) + ")" if lab else "")
            + """
  Emulator state and request log: <emulator URL>/_emulator/state and /_emulator/log
  Logs: config/hass.out (custom_components.whatwatt at debug), config/emulator.out
  Ctrl-C stops Home Assistant and the emulator.
""",
            flush=True,
        )
        while True:
            for name, proc in (("Home Assistant", hass.proc), ("emulator", emu)):
                if proc is not None and proc.poll() is not None:
                    say(f"{name} exited with {proc.returncode}; stopping")
                    return 1
            time.sleep(1)
    except Stop as why:
        say(f"{why}: stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if emu is not None and emu.poll() is None:
            emu.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                emu.wait(10)
        if hass is not None:
            hass.stop()
        if fwd is not None:
            fwd.stop()
        if lab:
            lab.down()
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())
