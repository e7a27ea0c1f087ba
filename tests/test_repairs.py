"""Repair issues a user can act on: a meter that needs its key, and who holds the live stream.

(The meter not talking for other reasons, and the assistant its issue opens: test_troubleshoot.)
"""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.whatwatt.const import DOMAIN
from tests.integration_common import async_pass_time, async_setup, make_entry
from whatwatt_emulator import Emulator


@pytest.mark.parametrize("status", ["KEY REQUIRED", "ENCRYPTION KEY"])
async def test_missing_or_wrong_dlms_key_asks_for_it_until_the_meter_is_ok(
    hass: HomeAssistant, emulator: Emulator, issue_registry: ir.IssueRegistry, status: str
) -> None:
    """The meter needs a (different) key: at once (waiting brings no key), an issue whose fix
    is the link assistant; it goes away by itself once the meter reports OK, checked every
    minute meanwhile."""
    entry = await async_setup(hass, make_entry(emulator))
    system = entry.runtime_data.system
    issue_id = f"meter_not_talking_{entry.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert system.update_interval == timedelta(minutes=5)

    emulator.set_meter_status(status)
    await system.async_refresh()
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.is_fixable
    assert issue.translation_key == "meter_not_talking"
    assert issue.data == {"entry_id": entry.entry_id}
    assert issue.translation_placeholders == {
        "name": "whatwatt Go 9F8124",
        "status": {
            "KEY REQUIRED": "Encryption key required",
            "ENCRYPTION KEY": "Wrong encryption key",
        }[status],
    }
    assert system.update_interval == timedelta(minutes=1)

    emulator.set_meter_status(None)
    await system.async_refresh()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert system.update_interval == timedelta(minutes=5)


async def test_other_meter_problems_wait_ten_minutes_for_their_issue(
    hass: HomeAssistant,
    emulator: Emulator,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A disconnected meter may be a moment's trouble: the status sensor tells at once, the
    issue only after 10 minutes."""
    emulator.set_meter_status("NOT CONNECTED")
    entry = await async_setup(hass, make_entry(emulator))
    assert hass.states.get("sensor.whatwatt_go_9f8124_meter_status").state == "not_connected"
    assert not issue_registry.async_get_issue(DOMAIN, f"meter_not_talking_{entry.entry_id}")
    await async_pass_time(hass, freezer, 600, step=60)
    assert issue_registry.async_get_issue(DOMAIN, f"meter_not_talking_{entry.entry_id}")
