"""Sub-meters (gas, water, heat) behind the electricity meter: the ``Vol`` / ``volume`` entries.

A real meter reads its M-Bus sub-meters on its own schedule, not at every telegram: a DSMR 5
meter captures each M-Bus channel every 5 minutes, an M-Bus/DLMS meter typically every 15
minutes (heat meters hourly).  The gateway forwards the latest capture in every report, so
``Cum`` and ``DT`` change only when a new capture is taken and repeat in between.

Captures are aligned to the clock: they fall on multiples of the interval since the epoch,
which for intervals dividing an hour are the local :00, :05, ... (the device's zone has whole-
hour offsets).  ``DT`` is the capture time as naive local time in the device's zone
(``meter.LOCAL_TZ``, the factory ``CET-1CEST``, as ``Date``/``Time``), whatever the zone of the
process or of a Home Assistant under test.  The clock is ``time.time()``, so a frozen clock
(pytest-freezer) drives the captures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
import math
import random
import re
from typing import Any, Final

from .meter import VolumeEntry, local_now

MAX_BUS: Final = 4
"""M-Bus channels of a meter (DSMR 0-1..0-4, DLMS M-Bus clients 1..4): the emulator's limit."""


@dataclass(frozen=True, slots=True)
class Medium:
    """How one kind of sub-meter counts, and how much a household uses."""

    unit: str  # what Cum counts (documentation only: the API carries no unit)
    meter_id: str  # the default M_ID
    start: float  # the register when the emulator starts
    active: float  # share of capture periods in which something flows
    low: float  # flow while something flows, per hour (unit/h)
    high: float


MEDIA: Final[dict[str, Medium]] = {
    # Gas in m³: a boiler that runs 60 % of the time at 0.1..1.2 m³/h (about 9 m³ a winter day).
    "gas": Medium("m³", "20000741", 2417.385, 0.6, 0.1, 1.2),
    # Water in m³: a tap or a shower in 30 % of the periods, 20..120 l/h (about 0.5 m³ a day).
    "water": Medium("m³", "31207754", 683.041, 0.3, 0.02, 0.12),
    # Heat in GJ: district heating, 80 % of the hours, 0.005..0.04 GJ/h.
    "heat": Medium("GJ", "40318826", 96.207, 0.8, 0.005, 0.04),
}
_METER_ID_RE: Final = re.compile(r"[0-9A-Za-z]{1,34}")
_CATCH_UP_DRAWS: Final = 96
"""After a long gap (a clock moved on by days) this many periods are drawn and scaled."""

PRESETS: Final[dict[str, tuple[tuple[int, str, str], ...] | None]] = {
    "default": None,  # the meter profile's own (dsmr: gas on bus 1; dlms: none)
    "none": (),
    "gas": ((1, MEDIA["gas"].meter_id, "gas"),),
    "gas+water": ((1, MEDIA["gas"].meter_id, "gas"), (2, MEDIA["water"].meter_id, "water")),
    "gas+water+heat": (
        (1, MEDIA["gas"].meter_id, "gas"),
        (2, MEDIA["water"].meter_id, "water"),
        (3, MEDIA["heat"].meter_id, "heat"),
    ),
}


def _finite(value: object, what: str, *, low: float, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number")
    if not math.isfinite(value) or value < low or (strict and value == low):
        raise ValueError(f"{what} must be a finite number {'>' if strict else '>='} {low:g}")
    return float(value)


@dataclass(frozen=True, slots=True)
class SubmeterSpec:
    """One sub-meter on a bus.

    ``interval`` None is the profile's for the medium; ``cumulative`` None is the medium's
    start value.
    """

    bus: int
    meter_id: str
    medium: str
    interval: float | None = None
    cumulative: float | None = None

    def __post_init__(self) -> None:
        """Check the values; raise ValueError (or TypeError) on nonsense."""
        if isinstance(self.bus, bool) or not isinstance(self.bus, int):
            raise TypeError("a sub-meter bus must be an integer")
        if not 1 <= self.bus <= MAX_BUS:
            raise ValueError(f"a sub-meter bus is 1..{MAX_BUS}")
        if not isinstance(self.meter_id, str) or not _METER_ID_RE.fullmatch(self.meter_id):
            raise ValueError("a sub-meter M_ID is 1 to 34 letters or digits")
        if self.medium not in MEDIA:
            raise ValueError(f"a sub-meter medium is one of {', '.join(MEDIA)}")
        if self.interval is not None:
            _finite(self.interval, "a sub-meter interval", low=0, strict=True)
        if self.cumulative is not None:
            _finite(self.cumulative, "a sub-meter cumulative value", low=0, strict=False)


SubmetersOption = str | Sequence[SubmeterSpec | Sequence[Any] | Mapping[str, Any]] | None
"""``EmulatorConfig.submeters``: None (the profile's default), a preset name or
``BUS:MEDIUM[:M_ID[:INTERVAL]]`` items separated by commas, or a sequence of specs (a
SubmeterSpec, a ``(bus, meter_id, medium[, interval[, cumulative]])`` tuple or a mapping)."""


def parse(text: str) -> tuple[SubmeterSpec, ...] | None:
    """Read the text form (CLI): a preset, or ``BUS:MEDIUM[:M_ID[:INTERVAL]]`` items."""
    if text.strip().lower() in PRESETS:
        preset = PRESETS[text.strip().lower()]
        return None if preset is None else normalise(preset)
    specs: list[SubmeterSpec] = []
    for item in text.split(","):
        parts = [part.strip() for part in item.split(":")]
        if not 2 <= len(parts) <= 4 or not parts[0].isdigit():
            raise ValueError(
                f"sub-meters are {', '.join(PRESETS)} or BUS:MEDIUM[:M_ID[:INTERVAL]] items "
                f"separated by commas, got {item.strip()!r}"
            )
        bus, medium, meter_id, interval = [*parts, "", ""][:4]
        medium = medium.lower()
        if medium not in MEDIA:
            raise ValueError(f"a sub-meter medium is one of {', '.join(MEDIA)}, got {medium!r}")
        try:
            seconds = float(interval) if interval else None
        except ValueError:
            raise ValueError(f"a sub-meter interval is seconds, got {interval!r}") from None
        specs.append(SubmeterSpec(int(bus), meter_id or MEDIA[medium].meter_id, medium, seconds))
    return normalise(specs)


def normalise(option: SubmetersOption) -> tuple[SubmeterSpec, ...] | None:
    """Return the sub-meters ordered by bus (None: the profile's default); raise on nonsense."""
    if option is None:
        return None
    if isinstance(option, str):
        return parse(option)
    specs: list[SubmeterSpec] = []
    for item in option:
        if isinstance(item, SubmeterSpec):
            specs.append(item)
        elif isinstance(item, Mapping):
            specs.append(SubmeterSpec(**item))
        else:
            specs.append(SubmeterSpec(*item))
    buses = [spec.bus for spec in specs]
    if len(set(buses)) != len(buses):
        raise ValueError("two sub-meters on the same bus")
    return tuple(sorted(specs, key=lambda spec: spec.bus))


def _thousandths(value: float) -> int:
    return round(value * 1000)


class Submeter:
    """One sub-meter and the latest capture the electricity meter took of it.

    What flowed is kept in thousandths of the unit (litres of m³); the register shows the
    whole thousandths, so a capture has exactly 3 decimals and a trickle below a litre waits
    until it makes one, as on a counter.
    """

    def __init__(
        self,
        spec: SubmeterSpec,
        interval: float,
        seed: int,
        now: float,
        *,
        captured: bool,
        shown: Callable[[float], float] = float,
    ) -> None:
        """Start at ``spec.cumulative`` (or the medium's); ``captured``: a capture exists.

        Times are the world's (``world.MeterClock``); ``shown`` turns the time of a capture
        into the one its ``DT`` says (the electricity meter's clock stamps it).
        """
        self._shown = shown
        self.bus = spec.bus
        self.meter_id = spec.meter_id
        self.medium = spec.medium
        self.interval = interval
        self._model = MEDIA[spec.medium]
        start = spec.cumulative if spec.cumulative is not None else self._model.start
        self._flowed = float(_thousandths(start))
        self._rng = random.Random(f"{seed}:{spec.bus}:{spec.medium}:{spec.meter_id}")
        self._index = math.floor(now / interval) + 1  # the next capture is index * interval
        self.captured_at: float | None = None
        if captured:
            self.captured_at = (self._index - 1) * interval
        self.captured = self.register
        self.entry = self._entry()
        self.flow: float | None = None
        """A steady flow (unit per hour) instead of a household's; None: the household's."""
        self.silent = False
        """The meter stopped reading it: what flows still counts, but no capture is taken."""

    @property
    def register(self) -> int:
        """Return the register in whole thousandths."""
        return math.floor(self._flowed)

    @property
    def next_capture(self) -> float:
        """Return the wall time of the next scheduled capture."""
        return self._index * self.interval

    def _consumed(self, periods: int) -> float:
        """Return what flowed in ``periods`` capture periods, in thousandths."""
        if self.flow is not None:
            return self.flow * periods * self.interval * 1000 / 3600.0
        model, rng = self._model, self._rng
        draws = min(periods, _CATCH_UP_DRAWS)
        flow = sum(
            rng.uniform(model.low, model.high) if rng.random() < model.active else 0.0
            for _ in range(draws)
        )
        return flow * periods / draws * self.interval * 1000 / 3600.0

    def update(self, now: float) -> bool:
        """Take the captures that fell due by ``now`` (the latest wins); True when one did."""
        due = self.next_capture
        if now < due:
            return False
        periods = int((now - due) // self.interval) + 1
        self._index += periods
        if self.silent:
            self._flowed += self._consumed(periods)
            return False
        self._capture((self._index - 1) * self.interval, self._consumed(periods))
        return True

    def take(self, now: float, amount: float) -> None:
        """Capture now, ``amount`` thousandths on (the scheduled captures stay as they are)."""
        self.update(now)
        self._capture(now, amount)

    def _capture(self, at: float, amount: float) -> None:
        self._flowed += amount
        self.captured = self.register
        self.captured_at = at
        self.entry = self._entry()

    def _date_time(self) -> str | None:
        if self.captured_at is None:
            return None
        return local_now(int(self._shown(self.captured_at))).strftime("%Y-%m-%dT%H:%M:%S")

    def _entry(self) -> VolumeEntry:
        date_time = self._date_time()
        if date_time is None:  # known on the bus, not read yet: only Bus and M_ID
            return VolumeEntry(
                live={"Bus": self.bus, "M_ID": self.meter_id},
                report={"bus": self.bus, "meter_id": self.meter_id},
            )
        cumulative = self.captured / 1000
        value = int(cumulative) if cumulative.is_integer() else cumulative
        return VolumeEntry(
            live={"Bus": self.bus, "M_ID": self.meter_id, "DT": date_time, "Cum": value},
            report={
                "bus": self.bus,
                "meter_id": self.meter_id,
                "date_time": date_time,
                "cumulative": value,
            },
        )

    def state(self, now: float) -> dict[str, Any]:
        """Return what the emulator knows of this sub-meter (admin state, tests)."""
        date_time = self._date_time()
        return {
            "bus": self.bus,
            "meter_id": self.meter_id,
            "medium": self.medium,
            "unit": self._model.unit,
            "interval": self.interval,
            "date_time": date_time,
            "cumulative": None if date_time is None else self.captured / 1000,
            "next_reading_in": round(max(0.0, self.next_capture - now), 3),
            "flow": self.flow,
            "silent": self.silent,
        }


class SubmeterBank:
    """The sub-meters on the buses of one meter, and the ``Vol`` entries of its next report.

    They belong to the meter, not to the gateway: a reboot or a factory reset of the gateway
    leaves them as they are.
    """

    def __init__(
        self,
        specs: Iterable[SubmeterSpec],
        intervals: Mapping[str, float],
        *,
        seed: int,
        now: float,
        shown: Callable[[float], float] = float,
    ) -> None:
        """Install ``specs``, each with a capture already taken (the meter has been running).

        ``now`` and every time given later are the world's; ``shown`` as ``Submeter`` has it.
        """
        self._shown = shown
        self._intervals = intervals
        self._seed = seed
        self._meters: dict[int, Submeter] = {}
        for spec in specs:
            self._install(spec, now, captured=True)
        self._entries: tuple[VolumeEntry, ...] = ()
        self._due = math.inf
        self._rebuild()

    def _install(self, spec: SubmeterSpec, now: float, *, captured: bool) -> None:
        if spec.bus in self._meters:
            raise ValueError(f"bus {spec.bus} has a sub-meter already")
        interval = spec.interval if spec.interval is not None else self._intervals[spec.medium]
        self._meters[spec.bus] = Submeter(
            spec, interval, self._seed, now, captured=captured, shown=self._shown
        )

    def _rebuild(self) -> None:
        meters = [self._meters[bus] for bus in sorted(self._meters)]
        self._entries = tuple(meter.entry for meter in meters)
        self._due = min((meter.next_capture for meter in meters), default=math.inf)

    def _meter(self, bus: int) -> Submeter:
        meter = self._meters.get(bus)
        if meter is None:
            raise KeyError(f"no sub-meter on bus {bus}")
        return meter

    def entries(self, now: float) -> tuple[VolumeEntry, ...]:
        """Return the ``Vol`` entries of a report at ``now``, taking the captures due."""
        if now >= self._due:
            for meter in self._meters.values():
                meter.update(now)
            self._rebuild()
        return self._entries

    def add(self, spec: SubmeterSpec, now: float) -> None:
        """Pair a new sub-meter: known at once, first read at its next capture time."""
        self._install(spec, now, captured=False)
        self._rebuild()

    def remove(self, bus: int) -> None:
        """Take the sub-meter off ``bus``; raise KeyError when there is none."""
        self._meter(bus)
        del self._meters[bus]
        self._rebuild()

    def advance(self, bus: int, amount: float, now: float) -> float:
        """Add ``amount`` to the register of ``bus`` and capture it now; return ``Cum``."""
        meter = self._meter(bus)
        meter.take(now, _thousandths(_finite(amount, "amount", low=0, strict=False)))
        self._rebuild()
        return meter.captured / 1000

    def set_flow(self, bus: int, flow: Any, *, silent: Any, now: float) -> None:
        """Make ``bus`` flow steadily, or stop reading it (``silent``).

        ``flow`` in unit per hour (None: a household's).  The captures due so far are taken
        first.  KeyError for an empty bus, ValueError / TypeError for a bad value.
        """
        meter = self._meter(bus)
        if flow is not None:
            flow = _finite(flow, "flow", low=0, strict=False)
        if not isinstance(silent, bool):
            raise TypeError("silent is true or false")
        self.entries(now)
        meter.flow, meter.silent = flow, silent

    def state(self, now: float) -> list[dict[str, Any]]:
        """Return the state of every sub-meter, by bus (captures due are taken first)."""
        self.entries(now)
        return [self._meters[bus].state(now) for bus in sorted(self._meters)]

    def get(self, bus: int, now: float) -> dict[str, Any]:
        """Return the state of the sub-meter on ``bus``; raise KeyError when there is none."""
        self.entries(now)
        return self._meter(bus).state(now)
