"""Meter profiles: which values a simulated meter sends, where they go in a report and an event.

Profiles follow the vendor examples (DIGEST 9.3): ``dsmr`` is the Ensor eRS801 on P1/DSMR
(tariff registers t1/t2, no reactive values, a gas meter on M-Bus channel 1), ``dlms`` is the
Landis+Gyr meter on M-Bus/DLMS (per-phase reactive power and reactive energy totals, no t1/t2,
no sub-meter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# leaf -> (report path, SSE key, OBIS C.D.E, scaled by conv_factor)
LEAVES: Final[dict[str, tuple[tuple[str, ...], str, str, bool]]] = {
    "p_in": (("instantaneous_power", "active", "positive", "total"), "P_In", "1.7.0", True),
    "p_in_l1": (("instantaneous_power", "active", "positive", "l1"), "P_P1_In", "21.7.0", True),
    "p_in_l2": (("instantaneous_power", "active", "positive", "l2"), "P_P2_In", "41.7.0", True),
    "p_in_l3": (("instantaneous_power", "active", "positive", "l3"), "P_P3_In", "61.7.0", True),
    "p_out": (("instantaneous_power", "active", "negative", "total"), "P_Out", "2.7.0", True),
    "p_out_l1": (("instantaneous_power", "active", "negative", "l1"), "P_P1_Out", "22.7.0", True),
    "p_out_l2": (("instantaneous_power", "active", "negative", "l2"), "P_P2_Out", "42.7.0", True),
    "p_out_l3": (("instantaneous_power", "active", "negative", "l3"), "P_P3_Out", "62.7.0", True),
    "rp_in_l1": (("instantaneous_power", "reactive", "positive", "l1"), "rP_P1_In", "23.7.0", True),
    "rp_in_l2": (("instantaneous_power", "reactive", "positive", "l2"), "rP_P2_In", "43.7.0", True),
    "rp_in_l3": (("instantaneous_power", "reactive", "positive", "l3"), "rP_P3_In", "63.7.0", True),
    "rp_out_l1": (
        ("instantaneous_power", "reactive", "negative", "l1"),
        "rP_P1_Out",
        "24.7.0",
        True,
    ),
    "rp_out_l2": (
        ("instantaneous_power", "reactive", "negative", "l2"),
        "rP_P2_Out",
        "44.7.0",
        True,
    ),
    "rp_out_l3": (
        ("instantaneous_power", "reactive", "negative", "l3"),
        "rP_P3_Out",
        "64.7.0",
        True,
    ),
    "v_l1": (("voltage", "l1"), "V_P1", "32.7.0", False),
    "v_l2": (("voltage", "l2"), "V_P2", "52.7.0", False),
    "v_l3": (("voltage", "l3"), "V_P3", "72.7.0", False),
    "i_l1": (("current", "l1"), "I_P1", "31.7.0", True),
    "i_l2": (("current", "l2"), "I_P2", "51.7.0", True),
    "i_l3": (("current", "l3"), "I_P3", "71.7.0", True),
    "e_in": (("energy", "active", "positive", "total"), "E_In", "1.8.0", True),
    "e_in_t1": (("energy", "active", "positive", "t1"), "E_In_T1", "1.8.1", True),
    "e_in_t2": (("energy", "active", "positive", "t2"), "E_In_T2", "1.8.2", True),
    "e_out": (("energy", "active", "negative", "total"), "E_Out", "2.8.0", True),
    "e_out_t1": (("energy", "active", "negative", "t1"), "E_Out_T1", "2.8.1", True),
    "e_out_t2": (("energy", "active", "negative", "t2"), "E_Out_T2", "2.8.2", True),
    "re_in": (("energy", "reactive", "positive", "total"), "rE_In", "3.8.0", True),
    "re_out": (("energy", "reactive", "negative", "total"), "rE_Out", "4.8.0", True),
}
"""Every value the simulation computes (physical units: kW, kvar, V, A, kWh, kvarh)."""


@dataclass(frozen=True, kw_only=True)
class Profile:
    """What one kind of meter sends and how it identifies itself."""

    name: str
    leaves: tuple[str, ...]
    interface: str  # /system and report meter.interface
    protocol: str
    protocol_version: str
    meter_id: str
    logical_name: str
    model: str
    vendor: str
    prefix: str
    submeters: tuple[tuple[int, str, str], ...]  # default (bus, M_ID, medium) on its M-Bus
    submeter_intervals: dict[str, float]  # medium -> seconds between sub-meter captures
    if_types: tuple[str, ...]  # settings if_type values that reach this meter
    protocols: tuple[str, ...]  # settings protocol values that understand it
    baudrate: int
    dlms: bool
    parity: str = "none"
    stop_bits: str = "1"
    inverted: bool = False
    """The line reaches the gateway inverted (some P1 and TTL adapters): ``rx_invert`` needed."""
    serial_detectable: bool = True
    """``auto_baudrate`` finds its serial parameters: it talks by itself.  A meter that
    speaks only when asked (M-Bus) gives the gateway nothing to detect them from."""
    encrypted: bool = False
    """The meter encrypts its data (DLMS): the gateway needs its key."""
    start_energy: dict[str, float]
    plug: dict[str, float]


_PHASES: Final = ("l1", "l2", "l3")
_POWER: Final = tuple(f"p_{d}{s}" for d in ("in", "out") for s in ("", *(f"_{p}" for p in _PHASES)))
_VI: Final = tuple(f"{q}_{p}" for q in ("v", "i") for p in _PHASES)

PROFILES: Final[dict[str, Profile]] = {
    "dsmr": Profile(
        name="dsmr",
        leaves=(
            *_POWER,
            *_VI,
            "e_in",
            "e_in_t1",
            "e_in_t2",
            "e_out",
            "e_out_t1",
            "e_out_t2",
        ),
        interface="P1",
        protocol="DSMR",
        protocol_version="5.0",
        meter_id="1ESR0012084367",
        logical_name="ESR51030712084367",
        model="1ESR0012084367",
        vendor="Ensor",
        prefix="ESR",
        submeters=((1, "20000741", "gas"),),
        # DSMR 5.0 captures every M-Bus channel every 5 minutes (DSMR 4: hourly).
        submeter_intervals={"gas": 300.0, "water": 300.0, "heat": 300.0},
        if_types=("auto", "p1", "p1_adapter"),
        protocols=("auto", "dsmr"),
        baudrate=115200,
        dlms=False,
        start_energy={"e_in_t1": 120.133, "e_in_t2": 69.877, "e_out_t1": 0.0, "e_out_t2": 0.0},
        plug={"v_usb": 5.16, "v_mbus": 0.0, "v_p1": 4.98, "v_scap": 4.87},
    ),
    "dlms": Profile(
        name="dlms",
        leaves=(
            *_POWER,
            *(f"rp_{d}_{p}" for d in ("in", "out") for p in _PHASES),
            *_VI,
            "e_in",
            "e_out",
            "re_in",
            "re_out",
        ),
        interface="MBUS",
        protocol="DLMS",
        protocol_version="",
        meter_id="",
        logical_name="LGZ1030784855204",
        model="",
        vendor="Landis+Gyr",
        prefix="LGZ",
        submeters=(),
        # An M-Bus/DLMS meter reads its wireless M-Bus sub-meters every 15 minutes; heat
        # meters (battery, slow) hourly.
        submeter_intervals={"gas": 900.0, "water": 900.0, "heat": 3600.0},
        if_types=("auto", "mbus"),
        protocols=("auto", "hdlc", "mbus"),
        baudrate=2400,
        dlms=True,
        start_energy={"e_in_t1": 75.133, "e_out_t1": 25.414, "re_in": 82.328, "re_out": 19.481},
        plug={"v_usb": 5.16, "v_mbus": 13.94, "v_p1": 2.83, "v_scap": 4.87},
    ),
}

# OBIS C.D.E -> scaler the meter really uses (the Landis+Gyr E450 column of the vendor's
# scaler table, which matches the scalers-current example) and the E570 column (lge570).
NATIVE_SCALERS: Final[dict[str, int]] = {
    **{f"{c}.8.0": 0 for c in (1, 2, 3, 4)},
    "1.7.0": 0,
    "2.7.0": 0,
    **{f"{c}.7.0": 0 for c in (32, 52, 72)},
    **{f"{c}.7.0": -2 for c in (31, 51, 71)},
    **{f"{c}.7.0": 0 for c in (21, 41, 61, 22, 42, 62, 23, 43, 63, 24, 44, 64)},
}
LGE570_SCALERS: Final[dict[str, int]] = {
    **{f"{c}.8.0": 3 for c in (1, 2, 3, 4)},
    "1.7.0": -1,
    "2.7.0": -1,
    **{f"{c}.7.0": 0 for c in (32, 52, 72)},
    **{f"{c}.7.0": -1 for c in (31, 51, 71)},
    **{f"{c}.7.0": -1 for c in (21, 41, 61, 22, 42, 62, 23, 43, 63, 24, 44, 64)},
}
# The order /scalers/current lists them in (the vendor example first, then the phases).
CURRENT_ORDER: Final = (
    "1.8.0", "2.8.0", "3.8.0", "4.8.0", "1.7.0", "2.7.0", "32.7.0", "52.7.0", "72.7.0",
    "31.7.0", "51.7.0", "71.7.0", "21.7.0", "41.7.0", "61.7.0", "22.7.0", "42.7.0", "62.7.0",
    "23.7.0", "43.7.0", "63.7.0", "24.7.0", "44.7.0", "64.7.0",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A meter as it really is, and the gateway set up wrong for it (the link assistant)."""

    meter: str
    """The profile the meter sends its values as."""
    changes: dict[str, object]
    """What this meter differs in from its profile (``Profile`` fields)."""
    settings: dict[str, object]
    """The gateway's meter settings at start (over the factory defaults)."""
    description: str


SCENARIOS: Final[dict[str, Scenario]] = {
    "dsmr5_wrong_settings": Scenario(
        meter="dsmr",
        changes={},
        settings={"if_type": "mbus", "protocol": "hdlc", "auto_baudrate": False, "baudrate": 9600},
        description="a DSMR 5 meter (P1, 115200 8N1) behind wrong manual settings: NOT CONNECTED",
    ),
    "mbus_meter": Scenario(
        meter="dlms",
        changes={"parity": "even", "protocols": ("auto", "mbus"), "serial_detectable": False},
        settings={"if_type": "p1", "protocol": "dsmr", "auto_baudrate": False, "baudrate": 115200},
        description="an M-Bus meter (2400 8E1, speaks only when asked: its serial parameters "
        "are not detected) set up as a P1 meter: NOT CONNECTED, then, detected, NO DATA until "
        "its serial parameters are set",
    ),
    "dlms_key": Scenario(
        meter="dlms",
        changes={"encrypted": True},
        settings={},
        description="a DLMS meter that encrypts its data, no key on the gateway: KEY REQUIRED",
    ),
    "inverted_p1": Scenario(
        meter="dsmr",
        changes={"inverted": True},
        settings={},
        description="a DSMR meter behind an adapter that inverts the line: NO DATA until rx_invert",
    ),
}
"""Meters the gateway does not read yet, and what it takes (``Emulator`` ``scenario``)."""
