"""Live data and slow polls against the emulator, in real time with shortened timings.

What a user notices: values follow the meter, survive hiccups (a dropped stream, one failed
poll), and when the device is really gone every entity turns unavailable with ONE log line,
and ONE more when it is back.
"""

from __future__ import annotations

from collections.abc import Iterator
import logging
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import UpdateFailed
import pytest

from custom_components.whatwatt.const import DOMAIN
from tests.integration_common import (
    async_setup,
    async_wait_for,
    fast,
    fast_live,
    make_entry,
    other_live_client,
)
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

POWER = "sensor.whatwatt_go_9f8124_meter_power_import"
WIFI = "sensor.whatwatt_go_9f8124_wi_fi_signal"
RESTART = "button.whatwatt_go_9f8124_restart"


@pytest.fixture(autouse=True)
def fast_timings() -> Iterator[None]:
    """Seconds instead of minutes for backoff and staleness."""
    with fast_live():
        yield


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def _watts(event: dict[str, float]) -> str:
    return str(round(event["P_In"] * 1000, 3))


async def test_live_events_reach_entity_states(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """Each meter report pushed by the device shows up as the new state, exactly."""
    emulator = await emulator_factory(report_interval=1000)
    await async_setup(hass, make_entry(emulator))
    for _ in range(3):
        event = await emulator.push_report()
        assert event is not None
        await async_wait_for(hass, lambda e=event: _state(hass, POWER) == _watts(e))
    assert emulator.live_connections == 1
    assert not emulator.requests("GET", "/api/v1/report")


async def test_dropped_stream_reconnects_without_unavailability(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """A stream cut mid-way is reopened at once; the sensors never go unavailable."""
    emulator = await emulator_factory(report_interval=1000)
    await async_setup(hass, make_entry(emulator))
    seen: list[str] = []
    hass.bus.async_listen("state_changed", lambda e: seen.append(e.data["new_state"].state))
    for connections in (2, 3):
        emulator.faults.drop_stream_after(events=0)
        await emulator.push_report()  # wakes the stream, which is then cut
        await async_wait_for(hass, lambda c=connections: emulator.live_connections == c)
    event = await emulator.push_report()
    assert event is not None
    await async_wait_for(hass, lambda: _state(hass, POWER) == _watts(event))
    assert STATE_UNAVAILABLE not in seen


async def test_offline_and_back_logs_once_each(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Device gone: every entity unavailable, one warning; back: one info, polls resume."""
    entry = await async_setup(hass, make_entry(emulator))
    port = emulator.port
    caplog.clear()
    await emulator.stop()
    await async_wait_for(hass, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    for entity_id in (WIFI, RESTART):
        assert _state(hass, entity_id) == STATE_UNAVAILABLE
    assert not entry.runtime_data.live.online

    # While offline the slow polls send nothing (and log nothing).
    await entry.runtime_data.system.async_refresh()
    await entry.runtime_data.meter_settings.async_refresh()
    polled = len(emulator.requests("GET", "/api/v1/system"))

    await emulator.start(port=port)
    await async_wait_for(hass, lambda: _state(hass, POWER) != STATE_UNAVAILABLE)
    await async_wait_for(hass, lambda: _state(hass, WIFI) != STATE_UNAVAILABLE)
    await async_wait_for(hass, lambda: len(emulator.requests("GET", "/api/v1/system")) > polled)
    assert _state(hass, RESTART) != STATE_UNAVAILABLE

    ours = [r for r in caplog.records if r.name.startswith("custom_components.whatwatt")]
    warnings = [r for r in ours if r.levelno >= logging.WARNING]
    infos = [r for r in ours if r.levelno == logging.INFO]
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith("whatwatt Go 9F8124 is not reachable (")
    assert [r.getMessage() for r in infos] == ["whatwatt Go 9F8124 is reachable again"]


async def test_silent_meter_makes_measurements_unavailable_not_the_gateway(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The meter stops sending (stream open, no events): measurements unavailable, the
    gateway's own entities stay; both come back with the data."""
    await async_setup(hass, make_entry(emulator))
    caplog.clear()
    emulator.set_meter_status("NO DATA")
    await async_wait_for(hass, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    assert _state(hass, WIFI) != STATE_UNAVAILABLE
    assert "No live data from whatwatt Go 9F8124" in caplog.text
    emulator.set_meter_status(None)
    await async_wait_for(hass, lambda: _state(hass, POWER) != STATE_UNAVAILABLE)
    assert "Live data from whatwatt Go 9F8124 is back" in caplog.text


async def test_password_changed_on_device_starts_reauth(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """The stream gets 401: measurements unavailable, reauth asked, no retry hammering."""
    emulator = await emulator_factory(password="pw", report_interval=1000)
    await async_setup(hass, make_entry(emulator, password="pw"))
    emulator.set_password("changed")
    emulator.faults.drop_stream_after(events=0)
    await emulator.push_report()
    await async_wait_for(hass, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    attempts = len(emulator.requests("GET", "/api/v1/live"))
    await async_wait_for(hass, lambda: True)
    assert len(emulator.requests("GET", "/api/v1/live")) == attempts


async def test_device_back_with_a_new_password_starts_reauth(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Offline, then back with another password: reauth is asked, the outage logged once."""
    emulator = await emulator_factory(password="Old-Secret-1")
    await async_setup(hass, make_entry(emulator, password="Old-Secret-1"))
    port = emulator.port
    caplog.clear()
    await emulator.stop()
    await async_wait_for(hass, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    emulator.set_password("New-Secret-2")
    await emulator.start(port=port)
    await async_wait_for(
        hass, lambda: bool(hass.config_entries.flow.async_progress_by_handler(DOMAIN))
    )
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert _state(hass, POWER) == STATE_UNAVAILABLE
    ours = [r for r in caplog.records if r.name.startswith("custom_components.whatwatt")]
    assert len([r for r in ours if r.levelno >= logging.WARNING]) == 1
    assert "Old-Secret-1" not in caplog.text
    assert "New-Secret-2" not in caplog.text


async def test_stream_taken_over_raises_issue_until_it_works_again(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, issue_registry: ir.IssueRegistry
) -> None:
    """Another app keeps grabbing the single stream: back off, tell the user; withdrawn once
    the stream is ours again."""
    emulator = await emulator_factory(report_interval=1000)
    entry = await async_setup(hass, make_entry(emulator))
    issue_id = f"stream_taken_over_{entry.entry_id}"
    async with other_live_client(emulator):
        await async_wait_for(hass, lambda: issue_registry.async_get_issue(DOMAIN, issue_id))
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "stream_taken_over"
    assert issue.translation_placeholders == {"name": "whatwatt Go 9F8124", "minutes": "0"}
    live = entry.runtime_data.live
    async with other_live_client(emulator):  # still there at the next tries: one issue
        await async_wait_for(hass, lambda: live.takeovers >= 5)
    assert len(issue_registry.issues) == 1
    connections = emulator.live_connections
    await async_wait_for(hass, lambda: emulator.live_connections > connections)
    for _ in range(3):
        await emulator.push_report()
    await async_wait_for(hass, lambda: not issue_registry.async_get_issue(DOMAIN, issue_id))
    assert entry.runtime_data.live.takeovers == 0


async def test_plus_licence_polls_reports_while_stream_is_held(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, issue_registry: ir.IssueRegistry
) -> None:
    """PLUS/PRO: the first values come from /report, and /report stands in while another
    client holds the stream, so the measurements stay current."""
    emulator = await emulator_factory(licence="PLUS", report_interval=0.25)
    entry = await async_setup(hass, make_entry(emulator))
    assert emulator.log[2].path == "/api/v1/report"  # system, meter settings, then report
    with fast("TAKEOVER_RETRY_SECONDS", 5.0), fast("STALE_MIN_SECONDS", 0.2):
        async with other_live_client(emulator):
            issue_id = f"stream_taken_over_{entry.entry_id}"
            await async_wait_for(hass, lambda: issue_registry.async_get_issue(DOMAIN, issue_id))
            issue = issue_registry.async_get_issue(DOMAIN, issue_id)
            assert issue is not None
            assert issue.translation_key == "stream_taken_over_polling"
            reports = len(emulator.requests("GET", "/api/v1/report"))
            await async_wait_for(
                hass, lambda: len(emulator.requests("GET", "/api/v1/report")) > reports + 3
            )
            assert _state(hass, POWER) != STATE_UNAVAILABLE
            # The licence lapses: no more report polling, the data goes stale.
            emulator.config.licence = "FREE"
            await async_wait_for(hass, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
            assert not entry.runtime_data.live.polls_reports
            # The device is still there: its own entities stay available.
            assert _state(hass, WIFI) != STATE_UNAVAILABLE


async def test_report_polling_stops_on_rejected_password(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """A 401 on the fallback poll asks for the password like the stream does."""
    emulator = await emulator_factory(licence="PRO", password="pw", report_interval=0.25)
    await async_setup(hass, make_entry(emulator, password="pw"))
    with fast("TAKEOVER_RETRY_SECONDS", 5.0):
        async with other_live_client(emulator, password="pw"):
            await async_wait_for(hass, lambda: len(emulator.requests("GET", "/api/v1/report")) > 1)
            emulator.set_password("changed")
            await async_wait_for(
                hass, lambda: bool(hass.config_entries.flow.async_progress_by_handler(DOMAIN))
            )
    assert _state(hass, POWER) == STATE_UNAVAILABLE


async def test_reboot_is_noticed_and_system_read_again(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """After a reboot the uptime restarts: the system is read again (last boot moves)."""
    emulator = await emulator_factory(reboot_downtime=0.1)
    await async_setup(hass, make_entry(emulator))
    last_boot = _state(hass, "sensor.whatwatt_go_9f8124_last_boot")
    polls = len(emulator.requests("GET", "/api/v1/system"))
    await async_wait_for(hass, lambda: emulator.uptime() > 1.5, seconds=3)
    await emulator.reboot(wait=True)
    await async_wait_for(hass, lambda: len(emulator.requests("GET", "/api/v1/system")) > polls)
    await async_wait_for(
        hass, lambda: _state(hass, "sensor.whatwatt_go_9f8124_last_boot") != last_boot
    )


async def test_one_failed_poll_is_not_an_outage(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A slow poll that fails while the stream works keeps its data and logs no error."""
    entry = await async_setup(hass, make_entry(emulator))
    caplog.clear()
    emulator.faults.reset_next(count=2)  # aiohttp retries a reset keep-alive once
    await entry.runtime_data.system.async_refresh()
    assert not emulator.faults.reset_count
    assert entry.runtime_data.system.last_update_success
    assert _state(hass, WIFI) == "100"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_poll_error_answer_is_reported(hass: HomeAssistant, emulator: Emulator) -> None:
    """An error answer (not a network problem) marks that poll failed, translated."""
    entry = await async_setup(hass, make_entry(emulator))
    emulator.faults.fail_next(status=500)
    await entry.runtime_data.system.async_refresh()
    system = entry.runtime_data.system
    assert not system.last_update_success
    assert isinstance(system.last_exception, UpdateFailed)
    assert system.last_exception.translation_key == "device_error"
    assert _state(hass, WIFI) == STATE_UNAVAILABLE


async def test_manual_refresh_serves_the_pushed_data(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """homeassistant.update_entity on a live sensor is harmless: data is pushed."""
    entry = await async_setup(hass, make_entry(emulator))
    live = entry.runtime_data.live
    await live.async_refresh()
    assert live.last_update_success
    await emulator.stop()
    await async_wait_for(hass, lambda: not live.last_update_success)
    await live.async_refresh()
    assert not live.last_update_success
    assert isinstance(live.last_exception, UpdateFailed)


async def test_unexpected_error_in_stream_is_logged_and_retried(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug while streaming does not end live data: it is logged and the stream reopened."""
    entry = await async_setup(hass, make_entry(emulator))
    live = entry.runtime_data.live
    original = live._async_publish
    calls: list[int] = []

    def broken(measurements: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        original(measurements)  # type: ignore[arg-type]

    connections = emulator.live_connections
    with patch.object(live, "_async_publish", broken):
        await async_wait_for(hass, lambda: emulator.live_connections > connections)
        await async_wait_for(hass, lambda: len(calls) > 2)
    assert "Unexpected error in the live stream of whatwatt Go 9F8124" in caplog.text
    assert live.last_update_success


async def test_gateway_back_but_meter_silent(hass: HomeAssistant, emulator: Emulator) -> None:
    """After an outage the gateway answers but its meter sends nothing: the gateway's
    entities come back, the measurements stay unavailable."""
    entry = await async_setup(hass, make_entry(emulator))
    port = emulator.port
    await emulator.stop()
    await async_wait_for(hass, lambda: not entry.runtime_data.live.online)
    emulator.set_meter_status("NO DATA")
    await emulator.start(port=port)
    await async_wait_for(hass, lambda: _state(hass, WIFI) != STATE_UNAVAILABLE)
    assert _state(hass, POWER) == STATE_UNAVAILABLE
    await async_wait_for(hass, lambda: emulator.live_connections >= 3)  # still trying
    assert _state(hass, POWER) == STATE_UNAVAILABLE


async def test_fallback_reports_only_count_when_the_meter_is_ok(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """While reports stand in for the stream, failed reports and reports of a meter that is
    not OK do not count as current values: the measurements go unavailable."""
    emulator = await emulator_factory(licence="PLUS", report_interval=0.25)
    await async_setup(hass, make_entry(emulator))
    with fast("TAKEOVER_RETRY_SECONDS", 5.0):
        async with other_live_client(emulator):
            await async_wait_for(hass, lambda: len(emulator.requests("GET", "/api/v1/report")) > 2)
            emulator.faults.fail_next(status=503, count=2)
            await async_wait_for(hass, lambda: not emulator.faults.fail_count)
            assert _state(hass, POWER) != STATE_UNAVAILABLE  # two failures are a hiccup
            emulator.set_meter_status("NO DATA")
            await async_wait_for(hass, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
            assert _state(hass, WIFI) != STATE_UNAVAILABLE


async def test_silent_meter_then_gateway_gone(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Measurements already unavailable, then the gateway goes: now everything is."""
    entry = await async_setup(hass, make_entry(emulator))
    emulator.set_meter_status("NO DATA")
    await async_wait_for(hass, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    assert _state(hass, WIFI) != STATE_UNAVAILABLE
    await emulator.stop()
    await async_wait_for(hass, lambda: _state(hass, WIFI) == STATE_UNAVAILABLE)
    await async_wait_for(hass, lambda: caplog.text.count("Cannot talk to") >= 1)
    assert not entry.runtime_data.live.online
    assert caplog.text.count("is not reachable") == 1


async def test_back_with_an_error_answer_is_reachable(
    hass: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Any answer, even an error, means the device is back; the stream follows."""
    entry = await async_setup(hass, make_entry(emulator))
    port = emulator.port
    await emulator.stop()
    await async_wait_for(hass, lambda: not entry.runtime_data.live.online)
    emulator.faults.fail_next(status=503)
    await emulator.start(port=port)
    await async_wait_for(hass, lambda: _state(hass, POWER) != STATE_UNAVAILABLE)
    assert emulator.requests("GET", "/api/v1/live")[0].status == 503
    assert caplog.text.count("is reachable again") == 1
