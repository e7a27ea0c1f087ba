"""The emulated meter's world: its clock, and a load someone controls.

* ``MeterClock``: the time the meter lives in (``world``) and its own clock.  The world runs at
  real pace, or ``speed`` times faster until it is ``ahead`` seconds ahead of real time (then at
  real pace again): a demand window of 15 minutes passes in a minute, and the meter's clock
  stays close enough to a Home Assistant's that it is trusted.  The meter's clock is the world's
  plus ``offset`` (a meter kept in standard time: -3600).  The gateway reports the meter's clock
  corrected by its ``time_offset`` setting, or the world's time when
  ``sync_time_offset_with_ntp`` is on (it then sets the offset itself, from NTP).
* ``LoadProgram``: the import power, constant or in steps (repeated or holding the last), which
  the import register integrates exactly.

Both use ``time.time()`` as real time, so a frozen clock (pytest-freezer) drives them.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import time
from typing import Any, Final

MAX_SPEED: Final = 3600.0
MAX_POWER_KW: Final = 100.0


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{name} must be a number")
    return float(value)


class MeterClock:
    """The world's time, and the meter's clock in it (seconds since the epoch)."""

    def __init__(self) -> None:
        """Start at real time, real pace, no offset."""
        self.offset = 0.0
        self.speed = 1.0
        self.ahead: float | None = None
        self._anchor = time.time()
        self._gain = 0.0
        """How far ahead of real time the world was at ``_anchor``."""

    def world(self, real: float | None = None) -> float:
        """The world's time at ``real`` (now by default)."""
        real = time.time() if real is None else real
        gained = max(0.0, real - self._anchor) * (self.speed - 1.0)
        if self.ahead is not None:
            gained = min(gained, max(0.0, self.ahead - self._gain))
        return real + self._gain + gained

    def meter(self, world: float) -> float:
        """The meter's own clock at world time ``world``."""
        return world + self.offset

    def set(
        self,
        *,
        offset: float | None = None,
        speed: float | None = None,
        ahead: float | None = None,
        unlimited: bool = False,
    ) -> None:
        """Change the clock from now on (the world's time never jumps).

        ``ahead``: run fast only until the world is this many seconds ahead of real time
        (``unlimited``: no such limit).  ValueError / TypeError for a bad value.
        """
        if offset is not None:
            offset = _real(offset, "offset")
        if speed is not None:
            speed = _real(speed, "speed")
            if not 1.0 <= speed <= MAX_SPEED:
                raise ValueError(f"speed must be from 1 to {MAX_SPEED:g}")
        if ahead is not None:
            ahead = _real(ahead, "ahead")
            if ahead < 0:
                raise ValueError("ahead must be >= 0")
        now = time.time()
        self._gain = self.world(now) - now
        self._anchor = now
        if offset is not None:
            self.offset = offset
        if speed is not None:
            self.speed = speed
        if ahead is not None or unlimited:
            self.ahead = ahead

    def state(self) -> dict[str, Any]:
        """What the admin state shows."""
        world = self.world()
        return {
            "offset": self.offset,
            "speed": self.speed,
            "ahead": self.ahead,
            "world": world,
            "ahead_now": round(world - time.time(), 3),
            "meter": self.meter(world),
        }


@dataclass(frozen=True, kw_only=True)
class LoadProgram:
    """Import power (kW) from ``start`` (world time): steps of (seconds, kW), in turn.

    After the last step the program starts over (``repeat``) or holds the last power.
    """

    steps: tuple[tuple[float, float], ...]
    start: float
    repeat: bool = False

    @classmethod
    def parse(cls, data: Any, start: float) -> LoadProgram:
        """Read ``{"power": 2.5}`` or ``{"steps": [[60, 2.0], [120, 0.5]], "repeat": true}``."""
        if not isinstance(data, dict):
            raise TypeError("a load is an object")
        steps: Any = [[3600.0, data["power"]]] if "power" in data else data.get("steps")
        if not isinstance(steps, list | tuple) or not steps:
            raise ValueError("give power, or a non-empty list of [seconds, kW] steps")
        parsed = []
        for step in steps:
            if not isinstance(step, list | tuple) or len(step) != 2:
                raise TypeError("a step is [seconds, kW]")
            seconds, power = _real(step[0], "seconds"), _real(step[1], "power")
            if seconds <= 0 or not 0 <= power <= MAX_POWER_KW:
                raise ValueError(f"steps last > 0 s and draw 0 to {MAX_POWER_KW:g} kW")
            parsed.append((seconds, power))
        repeat = data.get("repeat", False)
        if not isinstance(repeat, bool):
            raise TypeError("repeat is true or false")
        return cls(steps=tuple(parsed), start=start, repeat=repeat)

    @property
    def _cycle(self) -> float:
        return sum(seconds for seconds, _power in self.steps)

    def power(self, world: float) -> float:
        """The import power (kW) at world time ``world``."""
        at = world - self.start
        if at < 0:
            return self.steps[0][1]
        if self.repeat:
            at %= self._cycle
        for seconds, power in self.steps:
            if at < seconds:
                return power
            at -= seconds
        return self.steps[-1][1]

    def energy(self, begin: float, end: float) -> float:
        """The import energy (kWh) from world time ``begin`` to ``end``, exactly."""
        total = 0.0
        at = begin
        while at < end:
            nxt = min(end, self._next_change(at))
            total += self.power(at) * (nxt - at) / 3600.0
            at = nxt
        return total

    def _next_change(self, world: float) -> float:
        """The next world time the power may change after ``world``."""
        at = world - self.start
        if at < 0:
            return self.start
        cycle = self._cycle
        base = 0.0
        if self.repeat:
            base = (at // cycle) * cycle
        elif at >= cycle:
            return math.inf
        edge = base
        for seconds, _power in self.steps:
            edge += seconds
            if edge > at:
                return self.start + edge
        return self.start + base + cycle  # pragma: no cover - float edge at a cycle's end

    def as_dict(self) -> dict[str, Any]:
        """What the admin state shows."""
        return {
            "steps": [list(step) for step in self.steps],
            "start": self.start,
            "repeat": self.repeat,
        }
