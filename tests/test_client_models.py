"""Parsing of device answers into typed models (vendor examples, old and new firmware)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest

from custom_components.whatwatt.client import (
    LiveEvent,
    Measurements,
    Report,
    Scaler,
    SystemInfo,
    Volume,
)

# The vendor's /api/v1/system example (system-info.md), trimmed of clouds/services.
SYSTEM: dict[str, Any] = {
    "device": {
        "name": "",
        "id": "ECC9FF5C7F14",
        "model": "WW_Go_1.2",
        "firmware": "1.10.0",
        "build": "11b8102-68dfd692",
        "upgrade_capable": True,
        "date": "2025-10-07",
        "time": "14:20:52",
        "time_since_boot": 337837,
        "last_reboot": {"date": "2025-10-03", "time": "16:30:29"},
        "plug": {"v_usb": 5.16, "v_mbus": 13.94, "v_p1": 2.83, "v_scap": 4.87},
        "license": {"type": "PLUS", "activation_date": "2025-09-24T11:05:41Z"},
    },
    "meter": {
        "status": "OK",
        "interface": "MBUS",
        "id": "",
        "manufacturer": "Landis+Gyr",
        "type": "LGZ1030784855204",
        "model": "",
        "protocol": "DLMS",
        "protocol_version": "",
        "report_interval": 6.794,
        "enc_en": False,
        "auth_en": False,
        "tariff": 1,
    },
    "wifi": {
        "ssid": "sjj",
        "bssid": "DC15C84FBAB6",
        "channel": 13,
        "rssi": -29,
        "signal": 100,
        "mac": "ECC9FF5C7F14",
        "ip": "192.168.99.114",
        "status": "OK",
    },
    "ethernet": {"mac": "ECC9FF5C7F17", "status": "Up", "ip": "192.168.0.40"},
    "sd_card": {"installed": True},
}

# The vendor's Ensor P1/DSMR /api/v1/report example (polling.md).
REPORT_P1: dict[str, Any] = {
    "report": {
        "id": 72,
        "interval": 0.997,
        "tariff": 1,
        "date_time": "2025-10-07T14:29:41Z",
        "date_time_utc": "2025-10-07T12:29:41Z",
        "instantaneous_power": {
            "active": {
                "positive": {"total": 0.015, "l1": 0.015, "l2": 0, "l3": 0},
                "negative": {"total": 0, "l1": 0, "l2": 0, "l3": 0},
            }
        },
        "voltage": {"l1": 234.01, "l2": 36.12, "l3": 36.48},
        "current": {"l1": 0.26, "l2": 0, "l3": 0},
        "energy": {
            "active": {
                "positive": {"total": 190.01, "t1": 120.133, "t2": 69.877},
                "negative": {"total": 0, "t1": 0, "t2": 0},
            }
        },
        "conv_factor": 1,
        "volume": [{"bus": 1, "meter_id": "20000741"}],
    },
    "meter": {
        "status": "OK",
        "interface": "P1",
        "protocol": "DSMR",
        "protocol_version": "5.0",
        "logical_name": "ESR51030712084367",
        "id": "1ESR0012084367",
        "model": "1ESR0012084367",
        "vendor": "Ensor",
        "prefix": "ESR",
    },
    "system": {
        "id": "ECC9FF5C7F14",
        "date_time_utc": "2025-10-07T12:29:42Z",
        "boot_id": "7CDC08FD",
        "time_since_boot": 338352,
    },
}

# The vendor's live event example (streaming.md).
LIVE: dict[str, Any] = {
    "P_In": 0.036, "P_Out": 0, "P_P1_In": 0.01, "P_P2_In": 0.02, "P_P3_In": 0.03,
    "P_P1_Out": 0.04, "P_P2_Out": 0.05, "P_P3_Out": 0.06, "rP_In": 0.1, "rP_Out": 0.2,
    "rP_P1_In": 0.11, "rP_P2_In": 0.12, "rP_P3_In": 0.13, "rP_P1_Out": 0.21, "rP_P2_Out": 0.22,
    "rP_P3_Out": 0.23, "PF": 0.97, "I_P1": 1.1, "I_P2": 1.2, "I_P3": 1.3, "V_P1": 230.1,
    "V_P2": 229.8, "V_P3": 230.4, "E_In": 47.251, "E_In_T1": 33.388, "E_In_T2": 14.668,
    "E_Out": 8.965, "E_Out_T1": 7.868, "E_Out_T2": 1.097, "rE_In": 3.5, "rE_Out": 4.5,
    "rEii": 5.5, "rEic": 6.5, "rEei": 7.5, "rEec": 8.5, "P_P_In": 9.1, "P_P_In_T1": 9.2,
    "P_P_In_T2": 9.3, "T": 2,
    "Vol": [{"Bus": 1, "M_ID": "12345678", "DT": "2024-08-24T14:34:00", "Cum": 123.45}],
    "Date": "2024-08-24", "Time": "14:34:00", "Uptime": 71.05,
}  # fmt: skip


def test_system_info_reads_the_vendor_example() -> None:
    """Identity, firmware, licence, meter link and network come out typed."""
    info = SystemInfo.from_dict(SYSTEM)
    assert info.device.id == "ECC9FF5C7F14"
    assert info.device.model == "WW_Go_1.2"
    assert info.device.firmware == "1.10.0"
    assert info.device.build == "11b8102-68dfd692"
    assert info.device.upgrade_capable is True
    assert info.device.time_since_boot == 337837
    assert (info.device.last_reboot.date, info.device.last_reboot.time) == (
        "2025-10-03",
        "16:30:29",
    )
    assert info.device.plug.v_scap == 4.87
    assert info.device.plug.v_usb == 5.16
    assert info.device.license.type == "PLUS"
    assert info.device.license.activation_date == "2025-09-24T11:05:41Z"
    assert info.meter.status == "OK"
    assert info.meter.manufacturer == "Landis+Gyr"
    assert info.meter.type == "LGZ1030784855204"
    assert info.meter.report_interval == 6.794
    assert info.meter.enc_en is False
    assert info.meter.tariff == 1
    assert info.wifi.rssi == -29
    assert info.wifi.channel == 13
    assert info.wifi.mac == "ECC9FF5C7F14"
    assert info.ethernet.status == "Up"
    assert info.raw == SYSTEM
    assert info.device.raw == SYSTEM["device"]


def test_system_info_empty_strings_mean_unknown() -> None:
    """The device sends "" for an unset name or unknown meter id; that is None, not a name."""
    info = SystemInfo.from_dict(SYSTEM)
    assert info.device.name is None
    assert info.meter.id is None
    assert info.meter.model is None


def test_system_info_reads_time_since_reboot_as_fallback() -> None:
    """The field table calls uptime time_since_reboot (C1); both names are read."""
    device = {k: v for k, v in SYSTEM["device"].items() if k != "time_since_boot"}
    info = SystemInfo.from_dict({"device": {**device, "time_since_reboot": 42}})
    assert info.device.time_since_boot == 42


def test_system_info_missing_and_mistyped_leaves_are_none() -> None:
    """An old firmware without objects, or odd types, gives None everywhere, never 0."""
    info = SystemInfo.from_dict({"device": {"id": 5, "plug": "x", "time_since_boot": True}})
    assert info.device.id is None
    assert info.device.plug.v_scap is None
    assert info.device.time_since_boot is None
    assert info.device.license.type is None
    assert info.meter.status is None
    assert info.wifi.rssi is None
    assert info.ethernet.mac is None


def test_system_info_ignores_unknown_fields_from_newer_firmware() -> None:
    """Unknown keys are tolerated at every level (and kept in raw)."""
    data = {**SYSTEM, "future": {"x": 1}, "device": {**SYSTEM["device"], "new_field": [1]}}
    info = SystemInfo.from_dict(data)
    assert info.device.id == "ECC9FF5C7F14"
    assert info.raw["future"] == {"x": 1}


def test_report_maps_paths_and_keeps_absent_leaves_none() -> None:
    """Values the meter sent are read; what it did not send (reactive, T3...) is None, not 0."""
    report = Report.from_dict(REPORT_P1)
    m = report.measurements
    assert report.id == 72
    assert report.interval == 0.997
    assert report.date_time_utc == datetime(2025, 10, 7, 12, 29, 41, tzinfo=UTC)
    assert report.measurements.meter_time == report.date_time_utc
    assert report.conv_factor == 1
    assert (m.power_in, m.power_in_l1, m.power_in_l2, m.power_out) == (0.015, 0.015, 0, 0)
    assert (m.voltage_l1, m.voltage_l2, m.voltage_l3) == (234.01, 36.12, 36.48)
    assert m.current_l1 == 0.26
    assert (m.energy_in, m.energy_in_t1, m.energy_in_t2) == (190.01, 120.133, 69.877)
    assert m.energy_out == 0
    assert m.tariff == 1
    assert m.reactive_in is None
    assert m.reactive_energy_in is None
    assert m.power_factor is None
    assert m.max_demand_in is None
    assert m.volumes == (Volume(bus=1, meter_id="20000741"),)
    assert report.meter.status == "OK"
    assert report.meter.vendor == "Ensor"
    assert report.meter.logical_name == "ESR51030712084367"
    assert report.meter.protocol_version == "5.0"
    assert report.system.boot_id == "7CDC08FD"
    assert report.system.time_since_boot == 338352
    assert report.system.date_time_utc == datetime(2025, 10, 7, 12, 29, 42, tzinfo=UTC)
    assert report.raw == REPORT_P1


def test_report_reads_every_documented_path() -> None:
    """Reactive power/energy, quadrants, max demand, apparent power and PF (DIGEST §9.1)."""
    data = {
        "instantaneous_power": {
            "reactive": {
                "positive": {"total": 1.0, "l1": 1.1, "l2": 1.2, "l3": 1.3},
                "negative": {"total": 2.0, "l1": 2.1, "l2": 2.2, "l3": 2.3},
            },
            "apparent": {"total": 3.0},
        },
        "power_factor": 0.9,
        "energy": {
            "reactive": {
                "positive": {"total": 4.0},
                "negative": {"total": 5.0},
                "imported": {"inductive": {"total": 5.8}, "capacitive": {"total": 6.8}},
                "exported": {"inductive": {"total": 7.8}, "capacitive": {"total": 8.8}},
            }
        },
        "max_demand": {
            "active": {
                "positive": {"total": 1.6, "t1": 1.61, "t2": 1.62},
                "negative": {"total": 2.6, "t1": 2.61, "t2": 2.62},
            }
        },
    }
    m = Report.from_dict({"report": data}).measurements
    assert (m.reactive_in, m.reactive_in_l1, m.reactive_in_l2, m.reactive_in_l3) == (
        1.0,
        1.1,
        1.2,
        1.3,
    )
    assert (m.reactive_out, m.reactive_out_l3) == (2.0, 2.3)
    assert m.apparent_power == 3.0
    assert m.power_factor == 0.9
    assert (m.reactive_energy_in, m.reactive_energy_out) == (4.0, 5.0)
    assert m.reactive_energy_imported_inductive == 5.8
    assert m.reactive_energy_imported_capacitive == 6.8
    assert m.reactive_energy_exported_inductive == 7.8
    assert m.reactive_energy_exported_capacitive == 8.8
    assert (m.max_demand_in, m.max_demand_in_t1, m.max_demand_in_t2) == (1.6, 1.61, 1.62)
    assert (m.max_demand_out, m.max_demand_out_t1, m.max_demand_out_t2) == (2.6, 2.61, 2.62)


def test_report_without_meter_data_is_all_none() -> None:
    """Meter not connected: an empty report object gives an empty measurement set."""
    report = Report.from_dict({"report": {}, "meter": {"status": "NO DATA"}})
    assert report.measurements == Measurements()
    assert report.meter.status == "NO DATA"
    assert report.id is None
    assert report.date_time_utc is None


def test_live_event_maps_every_key_of_the_vendor_example() -> None:
    """Each SSE key lands in its field; rEii/rEic follow the C7 choice (Q1 / Q2)."""
    event = LiveEvent.from_dict(LIVE)
    m = event.measurements
    expected = {
        "power_in": 0.036, "power_out": 0, "power_in_l1": 0.01, "power_in_l2": 0.02,
        "power_in_l3": 0.03, "power_out_l1": 0.04, "power_out_l2": 0.05, "power_out_l3": 0.06,
        "reactive_in": 0.1, "reactive_out": 0.2, "reactive_in_l1": 0.11, "reactive_in_l2": 0.12,
        "reactive_in_l3": 0.13, "reactive_out_l1": 0.21, "reactive_out_l2": 0.22,
        "reactive_out_l3": 0.23, "power_factor": 0.97, "current_l1": 1.1, "current_l2": 1.2,
        "current_l3": 1.3, "voltage_l1": 230.1, "voltage_l2": 229.8, "voltage_l3": 230.4,
        "energy_in": 47.251, "energy_in_t1": 33.388, "energy_in_t2": 14.668, "energy_out": 8.965,
        "energy_out_t1": 7.868, "energy_out_t2": 1.097, "reactive_energy_in": 3.5,
        "reactive_energy_out": 4.5, "reactive_energy_imported_inductive": 5.5,
        "reactive_energy_imported_capacitive": 6.5, "reactive_energy_exported_inductive": 7.5,
        "reactive_energy_exported_capacitive": 8.5, "max_demand_in": 9.1,
        "max_demand_in_t1": 9.2, "max_demand_in_t2": 9.3, "tariff": 2,
    }  # fmt: skip
    assert {k: getattr(m, k) for k in expected} == expected
    assert m.apparent_power is None
    assert m.max_demand_out is None
    assert m.volumes == (
        Volume(
            bus=1,
            meter_id="12345678",
            date_time=datetime(2024, 8, 24, 14, 34),
            cumulative=123.45,
        ),
    )
    assert m.meter_time == datetime(2024, 8, 24, 14, 34)  # the meter's local time, naive
    assert event.raw == LIVE


def test_live_uptime_is_hours_and_converts_to_seconds() -> None:
    """The stream's Uptime is hours (C20); time_since_boot gives seconds like /system."""
    event = LiveEvent.from_dict({"Uptime": 2.5})
    assert event.uptime_hours == 2.5
    assert event.time_since_boot == 9000
    assert LiveEvent.from_dict({}).time_since_boot is None


def test_live_and_report_share_one_shape() -> None:
    """The same reading from SSE and from the report compares equal (one Measurements type)."""
    live = LiveEvent.from_dict({"P_In": 0.015, "V_P1": 234.01, "E_In_T1": 120.133, "T": 1})
    report = Report.from_dict(
        {
            "report": {
                "instantaneous_power": {"active": {"positive": {"total": 0.015}}},
                "voltage": {"l1": 234.01},
                "energy": {"active": {"positive": {"t1": 120.133}}},
                "tariff": 1,
            }
        }
    )
    assert live.measurements == report.measurements


def test_every_measurement_has_a_source() -> None:
    """No field of Measurements is unreachable: each has an SSE key or a report path."""
    for f in fields(Measurements):
        if f.name in {"tariff", "volumes", "meter_time"}:
            continue
        assert f.metadata["live"] or f.metadata["report"], f.name


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, None), ("1.5", None), (None, None), (2, 2.0), (2.5, 2.5)],
)
def test_mistyped_values_are_none_not_zero(value: Any, expected: float | None) -> None:
    """A boolean or a string where a number belongs is not guessed at."""
    assert LiveEvent.from_dict({"P_In": value}).measurements.power_in == expected


def test_tariff_accepts_integral_numbers_only() -> None:
    """``T: 2.0`` is tariff 2; ``T: 1.5`` is not a tariff."""
    assert LiveEvent.from_dict({"T": 2.0}).measurements.tariff == 2
    assert LiveEvent.from_dict({"T": 1.5}).measurements.tariff is None
    assert LiveEvent.from_dict({"T": True}).measurements.tariff is None


def test_volumes_skip_garbage_and_keep_bad_timestamps_none() -> None:
    """Non-object entries are skipped; an unparsable DT is None."""
    event = LiveEvent.from_dict({"Vol": [1, {"Bus": 2, "DT": "yesterday"}, None]})
    assert event.measurements.volumes == (Volume(bus=2),)
    assert LiveEvent.from_dict({"Vol": "x"}).measurements.volumes == ()


def test_scalers_are_read_and_broken_entries_skipped() -> None:
    """Scalers keep obis and exponent; entries missing either are dropped."""
    scalers = Scaler.list_from(
        [{"obis": "1.8.0", "scaler": 0}, {"obis": "31.7.0", "scaler": -2}, {"obis": "x"}, 5]
    )
    assert [(s.obis, s.scaler) for s in scalers] == [("1.8.0", 0), ("31.7.0", -2)]
    assert scalers[1].as_dict() == {"obis": "31.7.0", "scaler": -2}
    assert Scaler.list_from({"not": "a list"}) == []


@pytest.mark.parametrize(
    "data",
    [{"Date": "2024-08-24"}, {"Time": "14:34:00"}, {"Date": "24.8.2024", "Time": "14:34:00"},
     {"Date": "2024-08-24", "Time": "14:34:00+02:00"}, {"Date": 20240824, "Time": "14:34:00"}],
)  # fmt: skip
def test_a_live_event_without_a_clean_local_time_has_no_meter_time(data: dict[str, Any]) -> None:
    """Date and Time together make the meter's local time; anything else is no time."""
    assert Measurements.from_live(data).meter_time is None
