"""A simulated meter and the two views the gateway makes of each of its readings.

Power varies smoothly per phase, energy registers integrate it, and every reading becomes
the ``/api/v1/report`` object and the ``live`` SSE event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
import json
import math
import random
from typing import Any, Final
from zoneinfo import ZoneInfo

from .profiles import LEAVES, Profile
from .world import LoadProgram

LOCAL_TZ: Final = ZoneInfo("Europe/Zurich")  # the device default CET-1CEST,M3.5.0,M10.5.0/3
_TWO_PI: Final = 2 * math.pi


def local_now(ts: float) -> datetime:
    """Return the device's local time for a POSIX timestamp."""
    return datetime.fromtimestamp(ts, LOCAL_TZ)


@lru_cache(maxsize=8)
def _local_parts(second: int) -> tuple[str, str, int]:
    local = local_now(second)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S"), local.hour


def local_date_time(ts: float) -> tuple[str, str, int]:
    """Return local ``(Y-m-d, H:M:S, hour)``; cached per second (live events need it often)."""
    return _local_parts(int(ts))


@lru_cache(maxsize=8)
def _timestamps(second: int) -> dict[str, str]:
    local = local_now(second)
    utc = datetime.fromtimestamp(second, UTC)
    return {
        "date_time": local.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "date_time_local": local.isoformat(timespec="seconds"),
        "date_time_utc": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def timestamps(ts: float) -> dict[str, str]:
    """Return date_time (local with the vendor's ``Z`` quirk, C2), _local and _utc."""
    return dict(_timestamps(int(ts)))


@dataclass(frozen=True, slots=True)
class VolumeEntry:
    """One sub-meter as a report carries it: the SSE ``Vol[]`` item and the ``volume[]`` item."""

    live: dict[str, Any]  # Bus, M_ID[, DT, Cum]
    report: dict[str, Any]  # bus, meter_id[, date_time, cumulative]


@dataclass(frozen=True, slots=True)
class Reading:
    """One meter report: physical values (before conv_factor and scalers), when it came.

    ``volumes`` is the latest capture of each sub-meter (``submeters.py``).
    """

    id: int
    wall: float
    """When the meter measured it, as the gateway reports it (``Date``/``Time``, the report's
    timestamps): the meter's clock corrected by ``time_offset`` (``world.MeterClock``)."""
    interval: float
    tariff: int
    values: dict[str, float]
    volumes: tuple[VolumeEntry, ...] = ()


class MeterSimulator:
    """Power per phase from a smooth daily-ish curve plus noise; registers integrate it.

    Energy registers only ever increase (import and export each integrate their own power).
    They integrate over the world's time (``world.MeterClock``).  ``speed`` makes the curve and
    its integration run faster still, so counters move visibly in tests and benchmarks.  A
    ``LoadProgram`` replaces the curve: its import power, spread over the phases, no export,
    integrated exactly (not sped up).
    """

    def __init__(self, profile: Profile, *, seed: int, speed: float = 1.0) -> None:
        """Start the registers at the vendor example's values."""
        self.profile = profile
        self.speed = speed
        self._rng = random.Random(seed)
        self._phase = [self._rng.uniform(0, _TWO_PI) for _ in range(3)]
        self._base = [self._rng.uniform(0.15, 0.6) for _ in range(3)]
        self.registers = {
            "e_in_t1": 0.0,
            "e_in_t2": 0.0,
            "e_out_t1": 0.0,
            "e_out_t2": 0.0,
            "re_in": 0.0,
            "re_out": 0.0,
        }
        self.registers.update(profile.start_energy)
        self._last_world: float | None = None
        self._t0: float | None = None

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
        """Take a reading at world time ``world``, shown as ``wall``; integrate since the last.

        ``volumes`` are the sub-meter captures the reading carries; ``load`` replaces the
        simulated import power.
        """
        if self._t0 is None:
            self._t0 = world
        t = (world - self._t0) * self.speed
        rng = self._rng
        solar = 0.0 if load is not None else max(0.0, 1.8 * math.sin(_TWO_PI * t / 240.0))
        hour = local_date_time(wall)[2]
        tariff = 2 if hour >= 22 or hour < 7 else 1
        values: dict[str, float] = {}
        p_in = p_out = q_in = q_out = 0.0
        for k, name in enumerate(("l1", "l2", "l3")):
            if load is not None:
                net = load.power(world) / 3
            else:
                curve = self._base[k] * (1.4 + math.sin(_TWO_PI * t / 90.0 + self._phase[k]))
                net = curve + rng.uniform(-0.02, 0.02) - solar / 3
            imp, exp = (net, 0.0) if net >= 0 else (0.0, -net)
            volt = 230.0 + 2.5 * math.sin(_TWO_PI * t / 37.0 + k) + rng.uniform(-0.4, 0.4)
            q_pos = imp * 0.3
            q_neg = 0.01 + exp * 0.05
            values[f"p_in_{name}"] = imp
            values[f"p_out_{name}"] = exp
            values[f"rp_in_{name}"] = q_pos
            values[f"rp_out_{name}"] = q_neg
            values[f"v_{name}"] = volt
            values[f"i_{name}"] = abs(net) * 1000.0 / volt
            p_in += imp
            p_out += exp
            q_in += q_pos
            q_out += q_neg
        values["p_in"] = p_in
        values["p_out"] = p_out
        if self._last_world is not None:
            hours = max(0.0, world - self._last_world) * self.speed / 3600.0
            regs = self.registers
            if load is not None:
                regs[f"e_in_t{tariff}"] += load.energy(self._last_world, world)
            else:
                regs[f"e_in_t{tariff}"] += p_in * hours
            regs[f"e_out_t{tariff}"] += p_out * hours
            regs["re_in"] += q_in * hours
            regs["re_out"] += q_out * hours
        self._last_world = world
        values.update(self.registers)
        values["e_in"] = values["e_in_t1"] + values["e_in_t2"]
        values["e_out"] = values["e_out_t1"] + values["e_out_t2"]
        return Reading(
            id=reading_id,
            wall=wall,
            interval=interval,
            tariff=tariff,
            values=values,
            volumes=volumes,
        )


def _round(leaf: str, value: float) -> float | int:
    digits = 2 if leaf[0] in "vi" else 3
    rounded = round(value, digits)
    return int(rounded) if rounded == int(rounded) else rounded


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


class Views:
    """Turns readings into the report object and the SSE event of one profile.

    ``factors`` (leaf -> multiplier) carries conv_factor and, for DLMS meters, the effect of
    the scalers in use; the caller rebuilds it when the meter settings change.
    """

    def __init__(self, profile: Profile) -> None:
        """Prepare the per-leaf paths and keys once (keeps per-event work small)."""
        self.profile = profile
        self._leaves = [(leaf, *LEAVES[leaf][:2]) for leaf in profile.leaves]
        self.factors: Mapping[str, float] = dict.fromkeys(profile.leaves, 1.0)
        self.conv_factor: float = 1

    def report_body(self, reading: Reading) -> dict[str, Any]:
        """Return the ``report`` object for a reading."""
        body: dict[str, Any] = {
            "id": reading.id,
            "interval": round(reading.interval, 3),
            "tariff": reading.tariff,
            **timestamps(reading.wall),
        }
        factors = self.factors
        values = reading.values
        for leaf, path, _key in self._leaves:
            node = body
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = _round(leaf, values[leaf] * factors[leaf])
        body["conv_factor"] = _number(self.conv_factor)
        if reading.volumes:
            body["volume"] = [entry.report for entry in reading.volumes]
        return body

    def event(self, reading: Reading, uptime_s: float) -> bytes:
        """Return one complete SSE ``live`` event (one single-line ``data:``)."""
        factors = self.factors
        values = reading.values
        data: dict[str, Any] = {
            key: _round(leaf, values[leaf] * factors[leaf]) for leaf, _path, key in self._leaves
        }
        data["T"] = reading.tariff
        if reading.volumes:
            data["Vol"] = [entry.live for entry in reading.volumes]
        data["Date"], data["Time"], _hour = local_date_time(reading.wall)
        data["Uptime"] = round(uptime_s / 3600.0, 4)
        return b"event: live\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
