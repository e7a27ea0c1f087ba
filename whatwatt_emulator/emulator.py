"""The emulated whatwatt Go: state, lifecycle (start, stop, reboot) and the Python API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
import time
from typing import Any, Final

from aiohttp import web

from . import general_settings, meter_schema, scalers
from .admin import add_admin_routes
from .auth import Authenticator
from .config import EmulatorConfig, check_recognition_time
from .faults import Faults
from .live import LiveStream
from .log import LoggedRequest, RequestLog
from .mdns import MdnsAnnouncer
from .meter import MeterSimulator, Reading, Views
from .profiles import PROFILES, SCENARIOS
from .routes import build_app
from .submeters import SubmeterBank, SubmeterSpec, normalise as normalise_submeters
from .world import LoadProgram, MeterClock

_LOGGER: Final = logging.getLogger(__name__)
METER_STATUSES: Final = (
    "NOT CONNECTED",
    "NO DATA",
    "RECOGNITION",
    "OK",
    "ENCRYPTION KEY",
    "KEY REQUIRED",
    "NOT RECOGNIZED",
)
_RECOGNITION_SLACK: Final = 1e-4
"""A recognition phase ends this much early.  A loop timer due exactly "now" does not fire
under a frozen clock (its float time has no room for the loop's 1 ns resolution), so without
it, moving a frozen clock on by exactly ``recognition_time`` would not wake the live stream."""


METER_TRUTH: Final[dict[str, type]] = {
    "inverted": bool,
    "encrypted": bool,
    "parity": str,
    "stop_bits": str,
    "baudrate": int,
    "serial_detectable": bool,
}
"""What ``Emulator.set_meter`` can change about the meter, and the type of each."""


class Emulator:
    """One emulated device on a loopback (or netns) address.

    Configuration (general and meter settings, custom scalers) lives here, outside the HTTP
    server, so it survives a reboot the way the device's flash does.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        """Prepare the device in its factory state plus the configured password."""
        self.config = cfg = config or EmulatorConfig()
        self.scenario = SCENARIOS[cfg.scenario] if cfg.scenario is not None else None
        self.profile = PROFILES[cfg.meter]
        if self.scenario is not None:
            self.profile = dataclasses.replace(self.profile, **self.scenario.changes)  # type: ignore[arg-type]
        self.faults = Faults()
        self.log = RequestLog(cfg.log_limit)
        self.auth = Authenticator(
            digest=cfg.uses_digest, nonce_lifetime=cfg.nonce_lifetime, qop=cfg.digest_qop
        )
        seed = cfg.seed if cfg.seed is not None else int(cfg.device_id, 16)
        self.meter = MeterSimulator(self.profile, seed=seed)
        self.clock = MeterClock()
        self.load: LoadProgram | None = None
        """The import power someone set (``set_load``); None: the simulated curve."""
        self.views = Views(self.profile)
        specs = normalise_submeters(cfg.submeters)
        if specs is None:
            specs = normalise_submeters(self.profile.submeters)
        self._meter_settings: dict[str, Any] = {}  # the factory defaults, below
        self._submeters = SubmeterBank(
            specs or (),
            self.profile.submeter_intervals,
            seed=seed,
            now=self.clock.world(),
            shown=self.shown_time,
        )
        self.host = "127.0.0.1"
        self.port = 0
        self.live_connections = 0
        self.stream: LiveStream | None = None
        self.forced_meter_status: str | None = None
        self._recognition_end: float | None = None
        self.settings: dict[str, Any] = {}
        self.custom_scalers: list[dict[str, Any]] = []
        self._factory_reset()
        if self.scenario is not None:  # set up wrong, before anyone came to fix it
            self._meter_settings.update(self.scenario.settings)
            self.refresh_factors()
        if cfg.password:
            self.settings["system"]["password"] = cfg.password
            self.settings["system"]["protection"] = True
        self.boot_id = ""
        self.boot_mono = self.boot_wall = 0.0
        self._new_boot()
        self._runner: web.AppRunner | None = None
        self._online = asyncio.Event()
        self._offline = asyncio.Event()
        self._reboot_task: asyncio.Task[None] | None = None
        self._mdns: MdnsAnnouncer | None = None
        self._reading: Reading | None = None
        self._reading_id = 0
        self._due: float | None = None

    # ----- state -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.port}"

    @property
    def online(self) -> bool:
        """Return True while the device answers (False before start, while rebooting)."""
        return self._runner is not None

    @property
    def meter_settings(self) -> dict[str, Any]:
        """Return a copy of the stored meter settings, keys included (for assertions)."""
        return dict(self._meter_settings)

    @property
    def password(self) -> str | None:
        """Return the password auth currently enforces (None when unprotected)."""
        system = self.settings["system"]
        return system["password"] if system["protection"] and system["password"] else None

    @property
    def host_name(self) -> str:
        """Return ``system.host_name`` (factory default ``whatwatt_XXXXXX``)."""
        return str(self.settings["system"]["host_name"])

    @property
    def realm(self) -> str:
        """Return the Digest realm: configured, or the host name as ``whatwatt-XXXXXX.local``."""
        if self.config.realm:
            return self.config.realm
        name = self.host_name or f"whatwatt_{self.config.suffix}"
        return f"{name.replace('_', '-')}.local"

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """Return the logged requests, filtered by method and/or path."""
        return [
            entry
            for entry in self.log
            if (method is None or entry.method == method.upper())
            and (path is None or entry.path == path)
        ]

    def set_password(self, password: str | None) -> None:
        """Change the Web UI password on the device (None or "" turns protection off)."""
        system = self.settings["system"]
        system["password"] = password or ""
        system["protection"] = bool(password)

    def set_meter_status(self, status: str | None) -> None:
        """Force ``meter.status`` (None goes back to what the settings give)."""
        if status is not None and status not in METER_STATUSES:
            raise ValueError(f"meter status must be one of {', '.join(METER_STATUSES)}")
        self.forced_meter_status = status
        if self.stream is not None:
            self.stream.wake()

    def set_meter(self, **changes: object) -> dict[str, object]:
        """Change what the meter really is, as when an adapter or the meter itself is swapped.

        ``inverted``, ``encrypted``, ``serial_detectable`` (bools), ``parity`` (none/odd/even),
        ``stop_bits`` (1/1.5/2), ``baudrate`` (int): the gateway's settings stay as they are,
        so the status follows from the new truth at once.  Returns the meter's truth;
        ValueError when a field or value is not one of these.
        """
        for key, value in changes.items():
            kind = METER_TRUTH.get(key)
            if kind is None:
                raise ValueError(f"the meter has no {key!r}; one of {', '.join(METER_TRUTH)}")
            if (
                type(value) is not kind
                or (key == "parity" and value not in ("none", "odd", "even"))
                or (key == "stop_bits" and value not in ("1", "1.5", "2"))
            ):
                raise ValueError(f"{key}: invalid value {value!r}")
        self.profile = dataclasses.replace(self.profile, **changes)  # type: ignore[arg-type]
        if self.stream is not None:
            self.stream.wake()
        return self.meter_truth()

    def meter_truth(self) -> dict[str, object]:
        """What the meter really is (``set_meter``), as the admin state shows it."""
        return {key: getattr(self.profile, key) for key in METER_TRUTH}

    def set_recognition_time(self, seconds: float) -> None:
        """Change ``config.recognition_time`` for the link changes to come (not a running one)."""
        self.config.recognition_time = check_recognition_time(seconds)

    def meter_status(self) -> str:
        """Return the meter link status that follows from the settings (or a forced one).

        The meter is as its profile says (interface, protocol, serial parameters, an inverted
        line, encryption and keys); the gateway reads it when its settings fit.  Where they are
        automatic it detects interface and protocol, and with ``auto_baudrate`` the serial
        parameters (baud rate, parity, stop bits: "automatic serial port settings detection",
        meter-comm.md) of a meter that talks by itself (``serial_detectable``); never an
        inverted line or a key.  For ``config.recognition_time`` seconds after
        a change of a link field the status is ``RECOGNITION``, whatever the settings give.
        """
        if self.forced_meter_status is not None:
            return self.forced_meter_status
        if self.recognition_left() > 0:
            return "RECOGNITION"
        ms = self._meter_settings
        profile = self.profile
        detected = ms["auto_baudrate"] and profile.serial_detectable
        checks: list[tuple[bool, str]] = [
            (ms["if_type"] not in profile.if_types, "NOT CONNECTED"),
            (ms["if_mode"] == "pull", "NO DATA"),  # the meter pushes; nobody asks it
            (not detected and ms["baudrate"] != profile.baudrate, "NO DATA"),
            (ms["rx_invert"] != profile.inverted, "NO DATA"),
            # bytes arrive, but no frame parses: the gateway keeps trying to recognise it
            (not detected
             and (ms["parity"], ms["stop_bits"]) != (profile.parity, profile.stop_bits),
             "RECOGNITION"),
            (ms["protocol"] not in profile.protocols, "NOT RECOGNIZED"),
        ]  # fmt: skip
        if profile.dlms:
            # (does the meter need this key, what the gateway has, what the meter uses)
            for needed, given, real in (
                (profile.encrypted or ms["encryption"], ms["encryption_key"],
                 self.config.meter_key),
                (self.config.meter_auth_key is not None, ms["authentication_key"],
                 self.config.meter_auth_key),
            ):  # fmt: skip
                checks.append((bool(needed) and not given, "KEY REQUIRED"))
                checks.append((bool(needed) and bool(given) and given != real, "ENCRYPTION KEY"))
        return next((status for failed, status in checks if failed), "OK")

    def recognition_left(self) -> float:
        """Return the seconds until the meter is recognised again (0 when it is not being)."""
        if self._recognition_end is None:
            return 0.0
        return max(0.0, self._recognition_end - time.monotonic())

    def store_meter_settings(self, values: dict[str, Any]) -> None:
        """Replace the stored meter settings and recompute what they change.

        As on the device (PUT and POST land here): when a link field changes
        (``meter_schema.LINK_FIELDS``) the gateway detects the meter again, so ``meter.status``
        is ``RECOGNITION`` for ``config.recognition_time`` seconds; another such change
        meanwhile starts the phase over.  Time and scaling fields change nothing of the link.
        """
        before, self._meter_settings = self._meter_settings, values
        if self.config.recognition_time > 0 and meter_schema.link_changed(before, values):
            self._recognition_end = (
                time.monotonic() + self.config.recognition_time - _RECOGNITION_SLACK
            )
        self.refresh_factors()

    def refresh_factors(self) -> None:
        """Recompute conv_factor and scaler multipliers after a settings change."""
        ms = self._meter_settings
        self.views.conv_factor = ms["conv_factor"]
        self.views.factors = scalers.factors(
            self.profile, ms["scalers_set"], self.custom_scalers, float(ms["conv_factor"])
        )
        if self.stream is not None:
            self.stream.wake()

    def uptime(self) -> float:
        """Return seconds since the last boot."""
        return time.monotonic() - self.boot_mono

    def _new_boot(self) -> None:
        self.boot_id = secrets.token_hex(4).upper()
        self.boot_mono = time.monotonic()
        self.boot_wall = time.time()
        self.auth.reset()
        self._reading = None
        self._reading_id = 0
        self._due = None

    def _factory_reset(self) -> None:
        self.settings = general_settings.default_settings(f"whatwatt_{self.config.suffix}")
        self.custom_scalers = []
        self._meter_settings = meter_schema.defaults()
        self._recognition_end = None
        self.refresh_factors()

    # ----- meter readings ------------------------------------------------------------------

    def reading(self, *, force: bool = False) -> Reading | None:
        """Return the latest reading, taking a new one when one is due (None unless OK)."""
        if self.meter_status() != "OK":
            self._due = None
            return None
        now = time.monotonic()
        interval = self.config.report_interval
        if force or self._reading is None or self._due is None or now >= self._due:
            steps = 1
            if not force and self._reading is not None and self._due is not None:
                steps += int((now - self._due) // interval)
            self._reading_id += steps
            jitter = 1.0 + self.meter._rng.uniform(-0.003, 0.003)
            # A meter stamps its registers with the whole second it captured them at.
            world = self.clock.world()
            world -= self.shown_time(world) % 1.0
            self._reading = self.meter.sample(
                world,
                self.shown_time(world),
                self._reading_id,
                interval * jitter,
                volumes=self._submeters.entries(world),
                load=self.load,
            )
            due = now + interval if force or self._due is None else self._due + steps * interval
            self._due = due if due > now else now + interval
        return self._reading

    def shown_time(self, world: float) -> float:
        """The time the gateway reports for a reading taken at world time ``world``.

        The meter's own clock corrected by ``time_offset``; with ``sync_time_offset_with_ntp``
        the gateway sets that offset itself, so it reports the (NTP) world time.
        """
        ms = self._meter_settings  # empty while the device is first set up
        if ms.get("sync_time_offset_with_ntp", True):
            return world
        return self.clock.meter(world) + float(ms["time_offset"])

    def set_load(self, load: dict[str, Any] | None) -> None:
        """Set the import power from now on (world time); None: the simulated curve.

        ``{"power": kW}``, or ``{"steps": [[seconds, kW], ...], "repeat": bool}``.
        ValueError / TypeError for a bad one.
        """
        self.load = None if load is None else LoadProgram.parse(load, self.clock.world())

    # ----- sub-meters (gas, water, heat on the meter's M-Bus) ------------------------------

    def submeters(self) -> list[dict[str, Any]]:
        """Return the state of every sub-meter, by bus.

        Keys: bus, meter_id, medium, unit, interval, the latest capture (``date_time`` local,
        ``cumulative``; None before the first) and next_reading_in (seconds).
        """
        return self._submeters.state(self.clock.world())

    def add_submeter(
        self,
        bus: int,
        meter_id: str,
        medium: str,
        *,
        interval: float | None = None,
        cumulative: float | None = None,
    ) -> dict[str, Any]:
        """Pair a sub-meter on ``bus``; return its state.

        It shows up at the next meter report with only ``Bus`` and ``M_ID`` (the meter knows it
        but has not read it yet), and with ``DT``/``Cum`` from its first capture on, at the next
        multiple of ``interval`` (default: the profile's for the medium).  ``cumulative`` is
        its register (default: the medium's start value).  ValueError for a bad value or a bus
        in use, TypeError for a wrong type.
        """
        spec = SubmeterSpec(bus, meter_id, medium, interval, cumulative)
        now = self.clock.world()
        self._submeters.add(spec, now)
        return self._submeters.get(bus, now)

    def remove_submeter(self, bus: int) -> None:
        """Take the sub-meter off ``bus``: the next meter report has no entry for it.

        KeyError when there is none.
        """
        self._submeters.remove(bus)

    def advance_submeter(self, bus: int, amount: float = 0.0) -> float:
        """Add ``amount`` (m³ or GJ, >= 0) to the register of ``bus`` and capture it now.

        The next meter report carries the new ``Cum`` with ``DT`` = now; the scheduled captures
        go on as before.  Returns the new ``Cum``.  KeyError for an empty bus, ValueError (or
        TypeError) for a bad amount.
        """
        return self._submeters.advance(bus, amount, self.clock.world())

    def set_submeter_flow(
        self, bus: int, flow: float | None = None, *, silent: bool = False
    ) -> dict[str, Any]:
        """Make the sub-meter on ``bus`` flow steadily, or stop being read; return its state.

        ``flow`` per hour (None: a household's).  ``silent``: the meter forwards its last
        capture, and what flows still counts at the next one.  KeyError for an empty bus.
        """
        now = self.clock.world()
        self._submeters.set_flow(bus, flow, silent=silent, now=now)
        return self._submeters.get(bus, now)

    @property
    def last_report_id(self) -> int:
        """Return the id of the latest meter report since boot (0 before the first)."""
        return self._reading_id

    def next_due(self) -> float:
        """Return seconds until the meter's next report (an interval if none is scheduled).

        During a recognition phase it is at most the time left of it, so that the live stream
        looks at the meter again when the phase ends, not up to a report interval later.
        """
        due = self.config.report_interval if self._due is None else self._due - time.monotonic()
        left = self.recognition_left()
        return min(due, left) if left > 0 else due

    async def send_reading(self, stream: LiveStream, reading: Reading) -> None:
        """Send a reading to the live stream once, honouring the stream faults."""
        if reading.id == stream.last_id:
            return
        stream.last_id = reading.id
        payload = self.views.event(reading, self.uptime())
        if self.faults.take("malformed_event_count"):
            head, _, data = payload.rstrip(b"\n").partition(b"data: ")
            payload = head + b"data: " + data[: len(data) // 2] + b"\n\n"
        if not await stream.write(payload):
            return
        stream.sent += 1
        drop = self.faults.drop_after_events
        if drop is not None:
            self.faults.drop_after_events = drop - 1
            if drop <= 1:
                self.faults.drop_after_events = None
                stream.cut_off()

    async def push_report(self) -> dict[str, Any] | None:
        """Take a reading now and send it to the live client; return the event data.

        Returns None (and sends nothing) when the meter status is not OK.
        """
        reading = self.reading(force=True)
        if reading is None:
            return None
        if self.stream is not None:
            await self.send_reading(self.stream, reading)
        event = self.views.event(reading, self.uptime())
        data: dict[str, Any] = json.loads(event.split(b"data: ", 1)[1])
        return data

    def attach_stream(self, stream: LiveStream) -> None:
        """Make ``stream`` the live client; the previous one ends at once (single client)."""
        previous, self.stream = self.stream, stream
        self.live_connections += 1
        if previous is not None:
            previous.close()

    def detach_stream(self, stream: LiveStream) -> None:
        """Forget ``stream`` if it is still the live client."""
        if self.stream is stream:
            self.stream = None

    # ----- lifecycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start answering on ``host:port`` (port 0 picks a free one); announce if mdns."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self.host = host
        await self._serve(port)
        if self.config.mdns:
            self._mdns = MdnsAnnouncer(host=host, port=self.port, device_id=self.config.device_id)
            await self._mdns.start()
            await self.sync_broadcast()

    async def _serve(self, port: int) -> None:
        app = build_app(self)
        if self.config.admin:
            add_admin_routes(app, self)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner
        self._online.set()
        self._offline.clear()
        _LOGGER.debug("whatwatt emulator %s up at %s", self.config.device_id, self.url)

    async def _go_offline(self) -> None:
        runner, self._runner = self._runner, None
        self._online.clear()
        self._offline.set()
        if runner is None:
            return
        if self.stream is not None:
            self.stream.cut_off()
        await runner.cleanup()

    async def stop(self) -> None:
        """Stop answering, stop announcing and end every task."""
        task, self._reboot_task = self._reboot_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._mdns is not None:
            await self._mdns.stop()
            self._mdns = None
        if self.stream is not None:
            self.stream.close()
        await self._go_offline()

    async def reboot(self, *, wait: bool = False) -> None:
        """Reboot as ``POST /api/v1/reboot`` does: offline for reboot_downtime, then back.

        Returns once the device is offline (``wait=True``: once it is back).
        """
        rebooting = self._reboot_task is not None and not self._reboot_task.done()
        if self._runner is None and not rebooting:
            raise RuntimeError("the emulator is not running")
        self.schedule_reboot(delay=0.0)
        task = self._reboot_task
        assert task is not None
        if wait:
            await asyncio.shield(task)
        else:
            await self._offline.wait()

    async def wait_online(self) -> None:
        """Wait until the device answers again (wrap it in ``asyncio.timeout``)."""
        await self._online.wait()

    def schedule_reboot(self, *, delay: float = 0.05, factory_reset: bool = False) -> None:
        """Reboot in the background after ``delay`` (lets a 204 reach the client first)."""
        if self._reboot_task is not None and not self._reboot_task.done():
            return
        self._reboot_task = asyncio.get_running_loop().create_task(
            self._reboot_cycle(delay, factory_reset), name="whatwatt-emulator-reboot"
        )

    async def _reboot_cycle(self, delay: float, factory_reset: bool) -> None:
        if delay:
            await asyncio.sleep(delay)
        port = self.port
        await self._go_offline()
        if factory_reset:
            self._factory_reset()
        await asyncio.sleep(self.config.reboot_downtime)
        self._new_boot()
        while True:
            try:
                await self._serve(port)
                break
            except OSError:  # pragma: no cover - someone took the port meanwhile: keep trying
                _LOGGER.warning("emulator port %s busy after reboot", port)
                await asyncio.sleep(0.2)
        await self.sync_broadcast()

    async def sync_broadcast(self) -> None:
        """Announce over mDNS only while ``services.broadcast`` is on."""
        if self._mdns is not None:
            await self._mdns.want(bool(self.settings["services"]["broadcast"]))

    @property
    def mdns(self) -> MdnsAnnouncer | None:
        """Return the mDNS announcer (None without ``mdns``)."""
        return self._mdns
