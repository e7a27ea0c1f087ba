"""mDNS announcement (CLI in a subprocess, browsed from another process) and the CLI itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
import socket
import sys
from typing import Any

import aiohttp
import pytest

from whatwatt_emulator import Emulator, EmulatorConfig, cli
from whatwatt_emulator.mdns import MdnsAnnouncer

ROOT = Path(__file__).parents[1]
BROWSER = """
import json, sys, time
from zeroconf import IPVersion, ServiceBrowser, Zeroconf
zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
found = {}
def on_change(zeroconf, service_type, name, state_change):
    info = zeroconf.get_service_info(service_type, name, timeout=3000)
    if info is not None and name.startswith("whatwatt Go " + sys.argv[1]):
        found[name] = {
            "name": name, "server": info.server, "port": info.port,
            "addresses": info.parsed_addresses(),
            "txt": {k.decode(): (v or b"").decode() for k, v in info.properties.items()},
        }
ServiceBrowser(zc, "_http._tcp.local.", handlers=[on_change])
deadline = time.monotonic() + 60
while not found and time.monotonic() < deadline:
    time.sleep(0.1)
zc.close()
print(json.dumps(list(found.values())))
"""


async def _read_until(stream: asyncio.StreamReader, prefix: str) -> str:
    async with asyncio.timeout(90):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"the emulator exited before printing {prefix!r}")
            if line.startswith(prefix):
                return line.strip()


async def test_cli_mdns_is_found_by_a_browser_in_another_process(socket_enabled: None) -> None:
    """``python -m whatwatt_emulator --mdns``: a zeroconf browser in another process finds
    instance, host, port, address and TXT; zeroconf sends only on the loopback interface."""
    # mDNS names are machine-wide: another run of this suite on the machine (another checkout,
    # CI job or engineer) announcing the same device would make this one "WebUI-2".
    device_id = f"A842E3{os.getpid() % 0x1000000:06X}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "whatwatt_emulator", "--host", "127.0.0.1", "--port", "0",
        "--mdns", "--device-id", device_id,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        url = (await _read_until(proc.stdout, "whatwatt emulator")).rsplit(" ", 1)[-1]
        interfaces = await _read_until(proc.stdout, "mdns announced on interfaces:")
        bound = await _read_until(proc.stdout, "mdns sockets bound to:")
        assert interfaces.split(": ")[1].split(",") == ["127.0.0.1"]
        assert set(bound.split(": ")[1].split(",")) <= {"127.0.0.1", "0.0.0.0"}
        browser = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BROWSER, device_id[-6:], stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(browser.communicate(), 90)
        (service,) = json.loads(out)
        assert service["name"] == f"whatwatt Go {device_id[-6:]} WebUI._http._tcp.local."
        assert service["server"].lower() == f"whatwatt-{device_id[-6:].lower()}.local."
        assert service["addresses"] == ["127.0.0.1"]
        assert url == f"http://127.0.0.1:{service['port']}"
        assert service["txt"] == {"id": device_id, "type": "100"}
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        rest, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert b"stopped" in rest
    assert proc.returncode == 0


async def test_in_process_mdns_binds_only_the_emulator_address(emulator_factory: Any) -> None:
    """With mdns=True the announcer sends on the serving address only; broadcast off withdraws."""
    emu: Emulator = await emulator_factory(mdns=True, device_id="A842E39F8177")
    assert emu.mdns is not None
    assert emu.mdns.interfaces() == ["127.0.0.1"]
    assert set(emu.mdns.bound_addresses()) <= {"127.0.0.1", "0.0.0.0"}
    assert emu.mdns.announced
    async with aiohttp.ClientSession() as session:
        async with session.put(
            emu.url + "/api/v1/settings", json={"services": {"broadcast": False}}
        ) as resp:
            assert resp.status == 200
        assert not emu.mdns.announced
        async with session.put(
            emu.url + "/api/v1/settings", json={"services": {"broadcast": True}}
        ) as resp:
            assert resp.status == 200
        assert emu.mdns.announced
    await emu.stop()
    assert emu.mdns is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::1", "224.0.0.251"])
def test_mdns_refuses_anything_but_one_ipv4_address(host: str) -> None:
    """Never "all interfaces": the announcer needs one concrete IPv4 address."""
    with pytest.raises(ValueError, match="concrete IPv4"):
        MdnsAnnouncer(host=host, port=80, device_id="A842E39F8124")


async def test_mdns_announcer_before_start_does_nothing() -> None:
    """An announcer that never started reports no sockets and stops quietly."""
    announcer = MdnsAnnouncer(host="127.0.0.1", port=80, device_id="A842E39F8124")
    assert announcer.interfaces() == []
    assert announcer.bound_addresses() == []
    await announcer.want(True)
    assert not announcer.announced
    await announcer.stop()


def test_cli_arguments_become_the_config() -> None:
    """Every documented option reaches EmulatorConfig."""
    args = cli.parser().parse_args(
        ["--password", "pw", "--device-id", "ecc9ff5c7f14", "--licence", "plus",
         "--firmware", "1.9.0", "--meter", "dlms", "--report-interval", "0.5", "--mdns",
         "--admin", "--realm", "r", "--meter-key", "1" * 32, "--qop", "auth",
         "--reboot-downtime", "1", "--nonce-lifetime", "60", "--recognition-time", "4.5"]
    )  # fmt: skip
    cfg = cli.config_from_args(args)
    assert cfg == EmulatorConfig(
        device_id="ECC9FF5C7F14", password="pw", licence="PLUS", firmware="1.9.0", meter="dlms",
        report_interval=0.5, mdns=True, admin=True, realm="r", meter_key="1" * 32,
        digest_qop="auth", reboot_downtime=1, nonce_lifetime=60, recognition_time=4.5,
    )  # fmt: skip
    assert cli.config_from_args(cli.parser().parse_args([])).recognition_time == 0


def test_cli_submeters() -> None:
    """``--submeters`` takes a preset or BUS:MEDIUM[:M_ID[:INTERVAL]] items; default: the
    profile's (None)."""
    assert cli.config_from_args(cli.parser().parse_args([])).submeters is None
    for text in ("gas+water", "none", "1:gas,2:water:31207754:900"):
        args = cli.parser().parse_args(["--meter", "dlms", "--submeters", text])
        assert cli.config_from_args(args) == EmulatorConfig(meter="dlms", submeters=text)


def test_cli_scenario_sets_the_meter() -> None:
    """``--scenario`` gives a meter the gateway is set up wrong for; its profile wins."""
    args = cli.parser().parse_args(["--scenario", "mbus_meter"])
    assert cli.config_from_args(args) == EmulatorConfig(scenario="mbus_meter", meter="dlms")
    assert cli.config_from_args(cli.parser().parse_args([])).scenario is None


def test_cli_refuses_bad_submeters(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad sub-meter spec exits with 2 and says why."""
    assert cli.main(["--submeters", "1:oil"]) == 2
    assert "medium" in capsys.readouterr().err


def test_cli_refuses_a_bad_config(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad device ID exits with 2 and says why."""
    assert cli.main(["--device-id", "nope"]) == 2
    assert "device_id" in capsys.readouterr().err


def test_cli_reports_a_busy_port(capsys: pytest.CaptureFixture[str], socket_enabled: None) -> None:
    """A port already in use exits with 1 and a message."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert cli.main(["--port", str(busy.getsockname()[1])]) == 1
    assert "error" in capsys.readouterr().err


async def test_cli_run_serves_until_stopped(
    capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    """run() serves the configured device (with latency) until its stop event is set."""
    stop = asyncio.Event()
    config = EmulatorConfig(password="pw", firmware="1.9.0", mdns=True, device_id="A842E39F8166")
    task = asyncio.create_task(cli.run(config, "127.0.0.1", 0, latency=0.01, stop=stop))
    out = ""
    async with asyncio.timeout(60):
        while "mdns sockets bound to" not in out:
            await asyncio.sleep(0.02)
            out += capsys.readouterr().out
    assert "auth basic" in out
    assert "sub-meters: bus 1 gas 20000741 every 300 s\n" in out
    assert "mdns announced on interfaces: 127.0.0.1\n" in out
    url = out.split(" at ")[1].split()[0]
    async with aiohttp.ClientSession() as session, session.get(url + "/api/v1/system") as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic ")
    stop.set()
    await task


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--clock-speed", "0.5"], "speed"),
        (["--clock-ahead", "-1"], "ahead"),
        (["--load", "-2"], "kW"),
        (["--load", "[1, 2]"], "JSON object"),
        (["--load", '{"steps": "x"}'], "steps"),
    ],
)
def test_cli_refuses_a_bad_clock_or_load(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A bad clock or load exits with 2 and says why (nothing is served)."""
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


async def test_cli_sets_the_clock_and_the_load(
    capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    """--clock-speed/-ahead/-offset and --load reach the served device (its admin state)."""
    args = cli.parser().parse_args(
        ["--clock-speed", "15", "--clock-ahead", "1800", "--clock-offset", "-60", "--load", "2.5"]
    )
    stop = asyncio.Event()
    config = EmulatorConfig(admin=True, submeters="none")
    task = asyncio.create_task(
        cli.run(config, "127.0.0.1", 0, stop=stop, world=cli.world_from_args(args))
    )
    out = ""
    async with asyncio.timeout(60):
        while "sub-meters" not in out:
            await asyncio.sleep(0.02)
            out += capsys.readouterr().out
    url = out.split(" at ")[1].split()[0]
    async with aiohttp.ClientSession() as session, session.get(url + "/_emulator/state") as resp:
        state = await resp.json()
    stop.set()
    await task
    assert (state["clock"]["speed"], state["clock"]["ahead"], state["clock"]["offset"]) == (
        15,
        1800,
        -60,
    )
    assert state["load"]["steps"] == [[3600.0, 2.5]]
    assert cli.world_from_args(cli.parser().parse_args(["--load", '{"power": 1}'])) is not None
