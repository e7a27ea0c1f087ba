"""Live data and slow polls against the emulator, with a frozen clock.

What a user notices: values follow the meter, survive hiccups (a dropped stream, one failed
poll), the meter status follows a broken meter link within a minute, and when the device is
really gone its entities turn unavailable with one log line per coordinator, and one more each
when it is back.

Time only moves when a test says so (``async_pass_time`` fires the timers: backoff, staleness,
poll intervals); requests to the emulator are real.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import itertools
import logging
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import UpdateFailed
import pytest

from custom_components.whatwatt.client import LiveEvent
from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.coordinator import boot_instant, is_new_boot
from custom_components.whatwatt.live import lost_after
from tests.integration_common import (
    async_pass_time,
    async_setup,
    async_wait_for,
    make_entry,
    other_live_client,
)
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

POWER = "sensor.whatwatt_go_9f8124_meter_power_import"
STATUS = "sensor.whatwatt_go_9f8124_meter_status"
WIFI = "sensor.whatwatt_go_9f8124_wi_fi_signal"
RESTART = "button.whatwatt_go_9f8124_restart"


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def _watts(event: dict[str, float]) -> str:
    return str(round(event["P_In"] * 1000, 3))


def _ours(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """Our integration's log lines at exactly ``level``."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.whatwatt") and record.levelno == level
    ]


async def _until(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    condition: Callable[[], object],
    step: float = 1.0,
) -> None:
    """Let time pass in steps of ``step`` seconds until ``condition()`` holds (at most 10 min)."""
    for _ in range(int(600 / step)):
        if condition():
            return

        await async_pass_time(hass, freezer, step)
        await async_wait_for(hass, lambda: True)
    assert condition()


async def test_live_events_reach_entity_states(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """Each meter report pushed by the device shows up as the new state, exactly."""
    await async_setup(hass, make_entry(emulator))
    for _ in range(3):
        event = await emulator.push_report()
        assert event is not None
        await async_wait_for(hass, lambda e=event: _state(hass, POWER) == _watts(e))
    assert emulator.live_connections == 1
    assert not emulator.requests("GET", "/api/v1/report")


async def test_dropped_stream_reconnects_without_unavailability(
    hass: HomeAssistant,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A stream cut mid-way is reopened after a second; the sensors never go unavailable."""
    await async_setup(hass, make_entry(emulator))
    seen: list[str] = []
    hass.bus.async_listen(
        "state_changed", callback(lambda e: seen.append(e.data["new_state"].state))
    )
    for connections in (2, 3):
        emulator.faults.drop_stream_after(events=0)
        await emulator.push_report()  # wakes the stream, which is then cut
        await _until(hass, freezer, lambda c=connections: emulator.live_connections == c)
    event = await emulator.push_report()
    assert event is not None
    await async_wait_for(hass, lambda: _state(hass, POWER) == _watts(event))
    assert STATE_UNAVAILABLE not in seen


async def test_reconnects_back_off_from_one_second_to_a_minute(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """A device that keeps refusing the stream is retried after 1, 2, 4 ... 60 s, not hammered."""
    await async_setup(hass, make_entry(emulator))
    emulator.faults.fail_next(status=503, count=100)
    emulator.faults.drop_stream_after(events=0)
    await emulator.push_report()  # the stream is cut; every attempt after it gets 503

    def attempts() -> int:
        return len(emulator.requests("GET", "/api/v1/live"))

    step, now, seen = 0.25, 0.0, [0.0]  # the cut stream (not in the log) at 0 s
    while len(seen) < 9:
        count = attempts()
        await async_pass_time(hass, freezer, step)
        now += step
        if attempts() > count:
            seen.append(now)
    delays = [later - earlier for earlier, later in itertools.pairwise(seen)]
    for delay, expected in zip(delays, [1, 2, 4, 8, 16, 32, 60, 60], strict=True):
        assert abs(delay - expected) <= 2 * step, delays


async def test_offline_and_back_logs_once_per_coordinator(
    hass: HomeAssistant,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Device gone: the gateway's entities are unavailable at once, the measurements when the
    data is lost (30 s); one error line each.  Back: one line each, everything available."""
    entry = await async_setup(hass, make_entry(emulator))
    port = emulator.port
    caplog.clear()
    await emulator.stop()
    await _until(hass, freezer, lambda: _state(hass, WIFI) == STATE_UNAVAILABLE)
    assert _state(hass, RESTART) == STATE_UNAVAILABLE
    assert _state(hass, POWER) != STATE_UNAVAILABLE  # the last values are still current
    await _until(hass, freezer, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    assert not entry.runtime_data.live.last_update_success

    await emulator.start(port=port)
    await _until(hass, freezer, lambda: _state(hass, POWER) != STATE_UNAVAILABLE, step=5)
    await _until(hass, freezer, lambda: _state(hass, WIFI) != STATE_UNAVAILABLE)
    assert _state(hass, RESTART) != STATE_UNAVAILABLE

    errors = _ours(caplog, logging.ERROR)
    assert len(errors) == 2, errors
    assert errors[0].startswith(
        "Error fetching whatwatt Go 9F8124 system data: Cannot connect to whatwatt Go 9F8124"
    )
    assert errors[1].startswith(
        "Error requesting whatwatt Go 9F8124 live data: Cannot connect to whatwatt Go 9F8124"
    )
    assert sorted(_ours(caplog, logging.INFO)) == [
        "Fetching whatwatt Go 9F8124 system data recovered",
        "Live data from whatwatt Go 9F8124 is back",
    ]
    assert not _ours(caplog, logging.WARNING)


@pytest.mark.parametrize("status", ["KEY REQUIRED", "NO DATA"])
async def test_meter_status_follows_a_broken_link_within_a_minute(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    issue_registry: ir.IssueRegistry,
    status: str,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The meter link breaks while the gateway answers: once the data has stopped for 30 s
    the system is read at once, so the meter status (and the key repair issue) follow well
    within a minute; a fixed link shows as soon as data flows again."""
    emulator = await emulator_factory(report_interval=1.0)
    entry = await async_setup(hass, make_entry(emulator))
    issue_id = f"meter_not_talking_{entry.entry_id}"
    assert _state(hass, STATUS) == "ok"
    polls = len(emulator.requests("GET", "/api/v1/system"))

    emulator.set_meter_status(status)  # the meter stops sending; the gateway still answers
    await async_pass_time(hass, freezer, 29)
    assert _state(hass, STATUS) == "ok"
    assert len(emulator.requests("GET", "/api/v1/system")) == polls  # nothing extra meanwhile
    await async_pass_time(hass, freezer, 30)
    await async_wait_for(hass, lambda: _state(hass, STATUS) != "ok")
    assert _state(hass, STATUS) == status.lower().replace(" ", "_")
    assert _state(hass, POWER) == STATE_UNAVAILABLE
    assert _state(hass, WIFI) != STATE_UNAVAILABLE
    assert len(emulator.requests("GET", "/api/v1/system")) == polls + 1
    assert (issue_registry.async_get_issue(DOMAIN, issue_id) is not None) == (
        status == "KEY REQUIRED"
    )

    emulator.set_meter_status(None)
    await _until(hass, freezer, lambda: _state(hass, POWER) != STATE_UNAVAILABLE)
    await async_wait_for(hass, lambda: _state(hass, STATUS) == "ok")
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_password_changed_on_device_starts_reauth(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The stream gets 401: measurements unavailable, reauth asked, no retry hammering."""
    emulator = await emulator_factory(password="pw")
    await async_setup(hass, make_entry(emulator, password="pw"))
    emulator.set_password("changed")
    emulator.faults.drop_stream_after(events=0)
    await emulator.push_report()
    await _until(hass, freezer, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    attempts = len(emulator.requests("GET", "/api/v1/live"))
    await async_pass_time(hass, freezer, 600)
    await async_wait_for(hass, lambda: True)
    assert len(emulator.requests("GET", "/api/v1/live")) == attempts


async def test_device_back_with_a_new_password_starts_reauth(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Offline, then back with another password: reauth is asked, no secret is logged."""
    emulator = await emulator_factory(password="Old-Secret-1")
    await async_setup(hass, make_entry(emulator, password="Old-Secret-1"))
    port = emulator.port
    caplog.clear()
    await emulator.stop()
    await _until(hass, freezer, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    emulator.set_password("New-Secret-2")
    await emulator.start(port=port)
    await _until(
        hass, freezer, lambda: bool(hass.config_entries.flow.async_progress_by_handler(DOMAIN))
    )
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert _state(hass, POWER) == STATE_UNAVAILABLE
    assert "Old-Secret-1" not in caplog.text
    assert "New-Secret-2" not in caplog.text


async def test_stream_taken_over_raises_issue_until_it_works_again(
    hass: HomeAssistant,
    emulator: Emulator,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Another app keeps grabbing the single stream: back off to 5 minutes, tell the user;
    withdrawn once the stream is ours again."""
    entry = await async_setup(hass, make_entry(emulator))
    issue_id = f"stream_taken_over_{entry.entry_id}"
    stream = entry.runtime_data.stream
    async with other_live_client(emulator):
        await _until(
            hass, freezer, lambda: issue_registry.async_get_issue(DOMAIN, issue_id) is not None
        )
        issue = issue_registry.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "stream_taken_over"
        assert issue.translation_placeholders == {"name": "whatwatt Go 9F8124", "minutes": "5"}
        attempts = len(emulator.requests("GET", "/api/v1/live"))
        await async_pass_time(hass, freezer, 299)
        assert len(emulator.requests("GET", "/api/v1/live")) == attempts  # waits 5 minutes
        await _until(hass, freezer, lambda: stream.takeovers >= 4, step=60)
    assert len(issue_registry.issues) == 1
    connections = emulator.live_connections
    await _until(hass, freezer, lambda: emulator.live_connections > connections, step=60)
    for _ in range(3):
        await emulator.push_report()
    await async_wait_for(hass, lambda: not issue_registry.async_get_issue(DOMAIN, issue_id))
    assert stream.takeovers == 0


async def test_plus_licence_polls_reports_while_stream_is_held(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """PLUS/PRO: the first values come from /report, and /report stands in (every 10 s) while
    another client holds the stream, so the measurements stay current."""
    emulator = await emulator_factory(licence="PLUS")
    entry = await async_setup(hass, make_entry(emulator))
    assert emulator.log[2].path == "/api/v1/report"  # system, meter settings, then report
    issue_id = f"stream_taken_over_{entry.entry_id}"
    async with other_live_client(emulator):
        await _until(
            hass, freezer, lambda: issue_registry.async_get_issue(DOMAIN, issue_id) is not None
        )
        issue = issue_registry.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "stream_taken_over_polling"
        reports = len(emulator.requests("GET", "/api/v1/report"))
        for _ in range(6):  # a minute: well beyond the 30 s after which data counts as lost
            await async_pass_time(hass, freezer, 10)
            await async_wait_for(hass, lambda: True)
        assert len(emulator.requests("GET", "/api/v1/report")) >= reports + 5
        assert _state(hass, POWER) != STATE_UNAVAILABLE
        # The licence lapses: no more report polling, the data goes stale.
        emulator.config.licence = "FREE"
        await _until(hass, freezer, lambda: _state(hass, POWER) == STATE_UNAVAILABLE, step=5)
        assert not entry.runtime_data.stream.polls_reports
        # The device is still there: its own entities stay available.
        assert _state(hass, WIFI) != STATE_UNAVAILABLE


async def test_report_polling_stops_on_rejected_password(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 401 on the fallback poll asks for the password like the stream does, and the
    polling stops (no request with a password that is known to be wrong)."""
    emulator = await emulator_factory(licence="PRO", password="pw")
    await async_setup(hass, make_entry(emulator, password="pw"))

    def reports() -> list[int]:
        return [request.status for request in emulator.requests("GET", "/api/v1/report")]

    async with other_live_client(emulator, password="pw"):
        await _until(hass, freezer, lambda: len(reports()) > 1, step=5)
        emulator.set_password("changed")
        await _until(hass, freezer, lambda: 401 in reports(), step=5)
        await _until(hass, freezer, lambda: _state(hass, POWER) == STATE_UNAVAILABLE, step=5)
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
        polled = len(reports())
        await async_pass_time(hass, freezer, 120, step=5)
        assert len(reports()) == polled


async def test_reboot_is_noticed_and_system_read_again(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """After a reboot the uptime restarts: the system is read again (last boot moves)."""
    emulator = await emulator_factory(reboot_downtime=0)
    await async_setup(hass, make_entry(emulator))
    last_boot = _state(hass, "sensor.whatwatt_go_9f8124_last_boot")
    polls = len(emulator.requests("GET", "/api/v1/system"))
    await async_pass_time(hass, freezer, 120)  # two minutes of normal operation
    await emulator.reboot(wait=True)
    await _until(hass, freezer, lambda: len(emulator.requests("GET", "/api/v1/system")) > polls)
    await async_wait_for(
        hass, lambda: _state(hass, "sensor.whatwatt_go_9f8124_last_boot") != last_boot
    )


async def test_one_failed_poll_is_retried_within_a_minute(
    hass: HomeAssistant,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A system poll that fails while the stream works: the gateway's own entities are
    unavailable (logged once), the measurements are not, and the poll is retried after a
    minute (not five) and recovers (logged once)."""
    entry = await async_setup(hass, make_entry(emulator))
    system = entry.runtime_data.system
    caplog.clear()
    emulator.faults.reset_next(count=2)  # aiohttp retries a reset keep-alive once
    await system.async_refresh()
    assert not system.last_update_success
    assert _state(hass, WIFI) == STATE_UNAVAILABLE
    assert _state(hass, POWER) != STATE_UNAVAILABLE
    await async_pass_time(hass, freezer, 59)
    assert not system.last_update_success
    await async_pass_time(hass, freezer, 61)
    await async_wait_for(hass, lambda: system.last_update_success)
    assert _state(hass, WIFI) == "100"
    assert len(_ours(caplog, logging.ERROR)) == 1
    assert _ours(caplog, logging.INFO) == ["Fetching whatwatt Go 9F8124 system data recovered"]


async def test_polls_keep_their_pace(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """While the meter reports, the system is read every 5 minutes and the meter settings
    every 10; the stream adds no request."""
    await async_setup(hass, make_entry(emulator))
    system = lambda: len(emulator.requests("GET", "/api/v1/system"))  # noqa: E731
    settings = lambda: len(emulator.requests("GET", "/api/v1/meter/settings"))  # noqa: E731
    assert (system(), settings()) == (1, 1)
    for minute in range(1, 11):
        await async_pass_time(hass, freezer, 60)
        expected = 1 + minute // 5
        await async_wait_for(hass, lambda e=expected: system() >= e)
        assert system() == expected, (minute, emulator.log)
    await async_wait_for(hass, lambda: settings() >= 2)
    assert settings() == 2
    assert emulator.live_connections == 1


async def test_poll_error_answer_is_reported(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """An error answer (not a network problem) marks that poll failed, translated."""
    entry = await async_setup(hass, make_entry(emulator))
    emulator.faults.fail_next(status=500)
    await entry.runtime_data.system.async_refresh()
    system = entry.runtime_data.system
    assert not system.last_update_success
    assert isinstance(system.last_exception, UpdateFailed)
    assert system.last_exception.translation_key == "device_rejected"
    assert _state(hass, WIFI) == STATE_UNAVAILABLE


async def test_manual_refresh_serves_the_pushed_data(
    hass: HomeAssistant,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """homeassistant.update_entity on a live sensor is harmless: data is pushed."""
    entry = await async_setup(hass, make_entry(emulator))
    live = entry.runtime_data.live
    await live.async_refresh()
    assert live.last_update_success
    await emulator.stop()
    await _until(hass, freezer, lambda: not live.last_update_success)
    await live.async_refresh()
    assert not live.last_update_success
    assert isinstance(live.last_exception, UpdateFailed)


async def test_unexpected_error_in_stream_is_logged_and_retried(
    hass: HomeAssistant,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A bug while streaming does not end live data: it is logged and the stream reopened."""
    entry = await async_setup(hass, make_entry(emulator))
    stream = entry.runtime_data.stream
    original = stream._async_publish
    calls: list[int] = []

    def broken(measurements: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        original(measurements)  # type: ignore[arg-type]

    connections = emulator.live_connections
    with patch.object(stream, "_async_publish", broken):
        await emulator.push_report()
        await _until(hass, freezer, lambda: emulator.live_connections > connections)
        await async_wait_for(hass, lambda: len(calls) > 1)
    assert "Unexpected error in the live stream of whatwatt Go 9F8124" in caplog.text
    assert entry.runtime_data.live.last_update_success


async def test_gateway_back_but_meter_silent(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """After an outage the gateway answers but its meter sends nothing: the gateway's
    entities come back, the measurements stay unavailable."""
    await async_setup(hass, make_entry(emulator))
    port = emulator.port
    await emulator.stop()
    await _until(hass, freezer, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    emulator.set_meter_status("NO DATA")
    await emulator.start(port=port)
    await _until(hass, freezer, lambda: _state(hass, WIFI) != STATE_UNAVAILABLE, step=5)
    assert _state(hass, STATUS) == "no_data"
    assert _state(hass, POWER) == STATE_UNAVAILABLE
    connections = emulator.live_connections
    await _until(
        hass, freezer, lambda: emulator.live_connections > connections, step=5
    )  # still trying
    assert _state(hass, POWER) == STATE_UNAVAILABLE


@pytest.mark.parametrize("licence", ["FREE", "PLUS"])
async def test_a_meter_talking_again_ends_the_reconnect_wait(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
    licence: str,
) -> None:
    """The meter was silent for minutes (the stream retries once a minute; on PLUS reports
    are polled meanwhile); once a status read says OK, the stream reconnects at once and
    values are back within seconds, not at the next attempt up to a minute later (a link
    check after a change waits for them)."""
    emulator = await emulator_factory(licence=licence)
    entry = await async_setup(hass, make_entry(emulator))
    emulator.set_meter_status("NO DATA")
    await async_pass_time(hass, freezer, 600, step=5)
    assert _state(hass, POWER) == STATE_UNAVAILABLE
    connections = emulator.live_connections
    await _until(hass, freezer, lambda: emulator.live_connections > connections)
    await async_pass_time(hass, freezer, 31, step=1)  # that stream went stale: 60 s to wait
    connections = emulator.live_connections
    emulator.set_meter_status(None)
    await entry.runtime_data.system.async_refresh()
    await async_pass_time(hass, freezer, 2, step=1)
    assert emulator.live_connections == connections + 1
    await async_wait_for(hass, lambda: _state(hass, POWER) != STATE_UNAVAILABLE)


async def test_fallback_reports_only_count_when_the_meter_is_ok(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """While reports stand in for the stream, failed reports and reports of a meter that is
    not OK do not count as current values: the measurements go unavailable."""
    emulator = await emulator_factory(licence="PLUS")
    entry = await async_setup(hass, make_entry(emulator))
    issue_id = f"stream_taken_over_{entry.entry_id}"
    issues = ir.async_get(hass)
    async with other_live_client(emulator):
        await _until(hass, freezer, lambda: issues.async_get_issue(DOMAIN, issue_id) is not None)
        emulator.faults.fail_next(status=503, count=2)
        await _until(hass, freezer, lambda: not emulator.faults.fail_count, step=10)
        assert _state(hass, POWER) != STATE_UNAVAILABLE  # two failures are a hiccup
        emulator.set_meter_status("NO DATA")
        await _until(hass, freezer, lambda: _state(hass, POWER) == STATE_UNAVAILABLE, step=10)
        assert _state(hass, WIFI) != STATE_UNAVAILABLE


async def test_silent_meter_then_gateway_gone(
    hass: HomeAssistant,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Measurements already unavailable, then the gateway goes: now everything is."""
    entry = await async_setup(hass, make_entry(emulator))
    emulator.set_meter_status("NO DATA")
    await _until(hass, freezer, lambda: _state(hass, POWER) == STATE_UNAVAILABLE)
    assert _state(hass, WIFI) != STATE_UNAVAILABLE
    await emulator.stop()
    await _until(hass, freezer, lambda: _state(hass, WIFI) == STATE_UNAVAILABLE)
    assert not entry.runtime_data.system.last_update_success
    assert caplog.text.count("Error fetching whatwatt Go 9F8124 system data") == 1


async def test_back_with_an_error_answer_is_reachable(
    hass: HomeAssistant,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Any answer, even an error, means the device is back; the stream follows."""
    await async_setup(hass, make_entry(emulator))
    port = emulator.port
    await emulator.stop()
    await _until(hass, freezer, lambda: _state(hass, WIFI) == STATE_UNAVAILABLE)
    emulator.faults.fail_next(status=503)
    await emulator.start(port=port)
    await _until(hass, freezer, lambda: _state(hass, POWER) != STATE_UNAVAILABLE, step=5)
    await _until(hass, freezer, lambda: _state(hass, WIFI) != STATE_UNAVAILABLE)
    assert emulator.requests("GET", "/api/v1/live")[0].status == 503
    assert caplog.text.count("system data recovered") == 1


async def test_plus_takes_the_stream_back_after_five_minutes_of_reports(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """The other app has let go: after its 5 minutes of report polling the integration opens
    the stream again, and the reports stop."""
    emulator = await emulator_factory(licence="PLUS")
    entry = await async_setup(hass, make_entry(emulator))
    issue_id = f"stream_taken_over_{entry.entry_id}"
    issues = ir.async_get(hass)
    async with other_live_client(emulator):
        await _until(hass, freezer, lambda: issues.async_get_issue(DOMAIN, issue_id) is not None)
    connections = emulator.live_connections
    await _until(hass, freezer, lambda: emulator.live_connections > connections, step=10)
    for _ in range(3):
        await emulator.push_report()
    await async_wait_for(hass, lambda: issues.async_get_issue(DOMAIN, issue_id) is None)
    reports = len(emulator.requests("GET", "/api/v1/report"))
    await async_pass_time(hass, freezer, 60)
    assert len(emulator.requests("GET", "/api/v1/report")) == reports


async def test_an_event_without_uptime_is_no_reboot(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """Firmware that leaves Uptime out of the stream: no reboot is guessed, no extra read."""
    entry = await async_setup(hass, make_entry(emulator))
    reads = len(emulator.requests("GET", "/api/v1/system"))
    entry.runtime_data.system.async_note_uptime(LiveEvent().time_since_boot)
    await hass.async_block_till_done()
    assert len(emulator.requests("GET", "/api/v1/system")) == reads


@pytest.mark.parametrize(
    ("report_interval", "seconds"),
    [(None, 30.0), (1.0, 30.0), (10.0, 30.0), (15.0, 45.0), (60.0, 180.0)],
)
def test_data_is_lost_after_three_reports_or_thirty_seconds(
    report_interval: float | None, seconds: float
) -> None:
    """The one deadline for lost data (the stream) and for a link check: max(30 s, 3 x the
    meter's report interval; 10 s while the device has not said it)."""
    assert lost_after(report_interval) == seconds


def test_one_rule_says_whether_the_device_rebooted() -> None:
    """Boot instants from the stream (uptime in hours, two decimals) and from the system
    (seconds) that are within a minute are the same boot; further apart, a reboot."""
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    booted = boot_instant(3600.4, now)
    assert booted == datetime(2026, 12, 6, 10, 59, 59, tzinfo=UTC)
    assert is_new_boot(None, booted)
    assert not is_new_boot(booted, booted + timedelta(seconds=36))
    assert not is_new_boot(booted, booted - timedelta(seconds=36))
    assert is_new_boot(booted, booted + timedelta(seconds=61))
