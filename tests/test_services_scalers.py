"""The custom scaler actions read and write the whole list on the device, against the emulator.

What the device received comes from the emulator's request log: a refused list is never sent.
Device failures, a changed password and who may write are tested for every write action in
test_services.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.services import SERVICE_GET_SCALERS, SERVICE_SET_SCALERS
from whatwatt_emulator import Emulator, routes

from .client_common import SCALERS_CUSTOM as CUSTOM, scaler_posts
from .settings_common import loaded

EXAMPLE = [{"obis": "1.7.0", "scaler": -2}, {"obis": "1.8.255", "scaler": 3}]
"""The vendor's POST example."""


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, emulator: Emulator) -> AsyncIterator[MockConfigEntry]:
    """The integration set up against the emulator (actions need no entity platform)."""
    async with loaded(hass, emulator, []) as entry:
        yield entry


async def call(hass: HomeAssistant, service: str, entry: MockConfigEntry, **data: Any) -> Any:
    """Call an action on ``entry`` and return its response."""
    return await hass.services.async_call(
        DOMAIN,
        service,
        {ATTR_CONFIG_ENTRY_ID: entry.entry_id, **data},
        blocking=True,
        return_response=True,
    )


# --- get -------------------------------------------------------------------------------------


async def test_get_custom_scalers_reads_the_device_now(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The response is the list the device has now, as the API spells it."""
    emulator.custom_scalers = list(EXAMPLE)
    assert await call(hass, SERVICE_GET_SCALERS, loaded_entry) == {"scalers": EXAMPLE}
    assert [(r.method, r.path) for r in emulator.log] == [("GET", CUSTOM)]


async def test_get_custom_scalers_takes_no_list(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A list given to the read action is a mistake, not silently ignored."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, SERVICE_GET_SCALERS, loaded_entry, scalers=EXAMPLE)
    assert err.value.translation_key == "setting_get_takes_no_fields"
    assert emulator.log == []


async def test_get_custom_scalers_device_failure_is_an_error(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A device that does not answer: the shared translated error, not an empty list."""
    emulator.faults.reset_next(count=2)
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, SERVICE_GET_SCALERS, loaded_entry)
    assert err.value.translation_key == "cannot_connect"


# --- set -------------------------------------------------------------------------------------


async def test_set_custom_scalers_posts_the_whole_list_once_and_returns_it_read_back(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """One POST of the list (OBIS codes in canonical form), one GET; the response is the list
    the device reads back."""
    rows = [{"obis": "01.7.0", "scaler": -2.0}, {"obis": "1.8.255", "scaler": 3}]
    response = await call(hass, SERVICE_SET_SCALERS, loaded_entry, scalers=rows)
    assert scaler_posts(emulator) == [EXAMPLE]
    assert [(r.method, r.path) for r in emulator.log] == [("POST", CUSTOM), ("GET", CUSTOM)]
    assert response == {"scalers": EXAMPLE}
    assert emulator.custom_scalers == EXAMPLE


async def test_set_custom_scalers_without_a_response(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Called from an automation without response_variable, it just writes."""
    await hass.services.async_call(
        DOMAIN,
        SERVICE_SET_SCALERS,
        {ATTR_CONFIG_ENTRY_ID: loaded_entry.entry_id, "scalers": EXAMPLE},
        blocking=True,
    )
    assert emulator.custom_scalers == EXAMPLE


async def test_set_custom_scalers_with_an_empty_list_removes_them_all(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """[] is a list too: the device forgets its custom scalers."""
    emulator.custom_scalers = list(EXAMPLE)
    assert await call(hass, SERVICE_SET_SCALERS, loaded_entry, scalers=[]) == {"scalers": []}
    assert scaler_posts(emulator) == [[]]


ROW = {"obis": "1.8.0", "scaler": 3}
INVALID = [
    pytest.param({}, "scalers", "missing_field", id="list-missing"),
    pytest.param({"scalers": ROW}, "scalers", "not_a_list", id="not-a-list"),
    pytest.param({"scalers": [ROW, "1.8.0"]}, "scalers.1", "invalid_entry", id="row-not-object"),
    pytest.param({"scalers": [{"scaler": 3}]}, "scalers.0.obis", "missing_field", id="no-obis"),
    pytest.param({"scalers": [{"obis": "1.8.0"}]}, "scalers.0.scaler", "missing_field",
                 id="no-scaler"),
    pytest.param({"scalers": [{**ROW, "unit": "W"}]}, "scalers.0.unit", "extra_field",
                 id="extra-field"),
    pytest.param({"scalers": [ROW, {**ROW, "obis": "1-0:2.8.0"}]}, "scalers.1.obis",
                 "invalid_obis", id="obis-not-c-d-e"),
    pytest.param({"scalers": [{**ROW, "obis": "1.8.256"}]}, "scalers.0.obis", "out_of_range",
                 id="obis-out-of-range"),
    pytest.param({"scalers": [{**ROW, "scaler": -7}]}, "scalers.0.scaler", "out_of_range",
                 id="scaler-out-of-range"),
    pytest.param({"scalers": [{**ROW, "scaler": 0.5}]}, "scalers.0.scaler", "invalid_type",
                 id="scaler-not-whole"),
    pytest.param({"scalers": [ROW, {**ROW, "obis": "01.8.00"}]}, "scalers.1.obis",
                 "duplicate_obis", id="duplicate-obis"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "field", "reason"), INVALID)
async def test_set_custom_scalers_refuses_a_bad_list_naming_the_row_and_sends_nothing(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    data: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    """Each rule: a translated validation error naming the row and the reason; no POST."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, SERVICE_SET_SCALERS, loaded_entry, **data)
    assert err.value.translation_key == f"setting_{reason}"
    assert err.value.translation_placeholders["field"] == field
    assert field in str(err.value)
    assert scaler_posts(emulator) == []
    assert emulator.log == []


async def test_set_custom_scalers_duplicate_names_both_rows(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The message says which earlier row has the code already."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, SERVICE_SET_SCALERS, loaded_entry, scalers=[ROW, ROW])
    assert str(err.value).startswith("scalers.1.obis repeats the OBIS code of scalers.0.obis")


async def test_set_custom_scalers_refuses_an_unknown_field(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A misspelt field next to the list is refused by the action's schema; nothing sent."""
    with pytest.raises(probatio.Invalid):
        await call(hass, SERVICE_SET_SCALERS, loaded_entry, scalers=[ROW], scaler=[ROW])
    assert emulator.log == []


async def test_set_custom_scalers_reports_a_list_the_device_did_not_take(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """200 but another list read back: not reported as done."""
    validate_custom = routes.scalers.validate_custom
    monkeypatch.setattr(routes.scalers, "validate_custom", lambda body: validate_custom(body)[1:])
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, SERVICE_SET_SCALERS, loaded_entry, scalers=EXAMPLE)
    assert err.value.translation_key == "setting_not_applied"
    assert err.value.translation_placeholders == {"name": "whatwatt Go 9F8124", "field": "scalers"}
