"""The meter-settings actions read and write what they say, against the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
import importlib.util
import json
import logging
from pathlib import Path
import re
from types import ModuleType
from typing import Any
from unittest.mock import patch

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import selector
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.whatwatt.client.exceptions import WhatwattError
from custom_components.whatwatt.client.meter_settings import (
    DEFAULTS,
    READABLE_KEYS,
    SECRET_KEYS,
    SPECS,
    Section,
)
from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.services import (
    SERVICE_FIELDS,
    SERVICE_GET,
    SERVICE_GET_SCALERS,
    SERVICE_REPLACE,
    SERVICE_SET,
    SERVICE_SET_SCALERS,
)
from whatwatt_emulator import Emulator

from .integration_common import make_entry
from .settings_common import KEY, arm, loaded, meter_writes

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN
LANGUAGES = sorted(path.stem for path in (INTEGRATION / "translations").glob("*.json"))
SERVICES = (SERVICE_GET, SERVICE_SET, SERVICE_REPLACE, SERVICE_GET_SCALERS, SERVICE_SET_SCALERS)


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, emulator: Emulator) -> AsyncIterator[MockConfigEntry]:
    """The integration set up against the emulator (actions need no entity platform)."""
    async with loaded(hass, emulator, []) as entry:
        yield entry


def generator() -> ModuleType:
    """Import scripts/gen_services_yaml.py."""
    spec = importlib.util.spec_from_file_location(
        "gen_services_yaml", ROOT / "scripts" / "gen_services_yaml.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def call(
    hass: HomeAssistant, service: str, entry: MockConfigEntry | None, **data: Any
) -> Any:
    """Call an action and return its response."""
    if entry is not None:
        data = {ATTR_CONFIG_ENTRY_ID: entry.entry_id, **data}
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


# --- services.yaml is derived from SPECS -----------------------------------------------------


def test_services_yaml_is_what_the_generator_makes_from_specs() -> None:
    """The committed services.yaml is the generator's output: SPECS is the only source."""
    gen = generator()
    assert (INTEGRATION / "services.yaml").read_text(encoding="utf-8") == gen.build()
    assert gen.main(["--check"]) == 0


def test_services_yaml_generator_detects_and_fixes_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hand-edited file fails the check; running the script writes it back."""
    gen = generator()
    target = tmp_path / "services.yaml"
    target.write_text(gen.build().replace("max: 115200", "max: 230400"), encoding="utf-8")
    monkeypatch.setattr(gen, "SERVICES_YAML", target)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert target.read_text(encoding="utf-8") == gen.build()
    assert gen.main(["--check"]) == 0


def test_services_yaml_lists_every_readable_setting_by_section() -> None:
    """The write actions document exactly the readable settings, in their sections, with
    selectors Home Assistant accepts; the keys are not among them."""
    services = load_yaml_dict(str(INTEGRATION / "services.yaml"))
    assert list(services) == list(SERVICES)
    assert list(services[SERVICE_GET]["fields"]) == [ATTR_CONFIG_ENTRY_ID]
    expected = {
        part.value: [key for key in READABLE_KEYS if SPECS[key].section is part] for part in Section
    }
    for name in (SERVICE_SET, SERVICE_REPLACE):
        fields = services[name]["fields"]
        sections = {
            key: list(value["fields"]) for key, value in fields.items() if "fields" in value
        }
        assert sections == expected
        for part in sections.values():
            assert not set(part) & set(SECRET_KEYS)
        for value in fields.values():
            for field in value.get("fields", {"_": value}).values():
                selector.validate_selector(field["selector"])
    assert list(SERVICE_FIELDS) == list(READABLE_KEYS)


async def test_actions_are_registered_in_setup_and_described(hass: HomeAssistant) -> None:
    """The actions exist without any device (action-setup) and Home Assistant reads their
    descriptions without complaint."""
    assert await async_setup_component(hass, DOMAIN, {})
    for name in SERVICES:
        assert hass.services.has_service(DOMAIN, name)
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    assert set(descriptions) == set(SERVICES)
    assert "baudrate" in descriptions[SERVICE_SET]["fields"]["serial"]["fields"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_actions_and_their_errors_are_translated(language: str) -> None:
    """Every action, section and field has a name and description in every language, and every
    error message uses the same placeholders as the English one."""
    texts = json.loads((INTEGRATION / "translations" / f"{language}.json").read_text("utf-8"))
    english = json.loads((INTEGRATION / "translations" / "en.json").read_text("utf-8"))
    services = load_yaml_dict(str(INTEGRATION / "services.yaml"))
    for name, service in services.items():
        text = texts["services"][name]
        assert text["name"]
        assert text["description"]
        for key, field in service["fields"].items():
            inner = field.get("fields")
            if inner is None:
                assert text["fields"][key]["name"]
                continue
            assert text["sections"][key]["name"]
            for sub in inner:
                assert text["fields"][sub]["name"]
                assert text["fields"][sub]["description"]
    placeholders = re.compile(r"\{(\w+)\}")
    for key, message in english["exceptions"].items():
        if key.startswith("setting_"):
            translated = texts["exceptions"][key]["message"]
            assert set(placeholders.findall(translated)) == set(
                placeholders.findall(message["message"])
            ), key


# --- get ---------------------------------------------------------------------------------------


async def test_get_meter_settings_reads_the_device_now_without_keys(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The response is what the device has now (not the last poll), and never a key."""
    emulator.store_meter_settings(
        {**emulator.meter_settings, "baudrate": 2400, "encryption_key": KEY}
    )
    response = await call(hass, SERVICE_GET, loaded_entry)
    assert response == {**DEFAULTS, "baudrate": 2400}
    assert KEY not in json.dumps(response)
    assert loaded_entry.runtime_data.meter_settings.data.baudrate == 2400
    assert [(r.method, r.path) for r in emulator.log] == [("GET", "/api/v1/meter/settings")]


async def test_get_meter_settings_takes_no_setting(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A setting given to the read action is a mistake, not silently ignored."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, SERVICE_GET, loaded_entry, baudrate=9600)
    assert err.value.translation_key == "setting_get_takes_no_fields"
    assert emulator.log == []


async def test_actions_use_the_only_gateway_when_none_is_named(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """With one gateway set up, config_entry_id can be left out."""
    response = await call(hass, SERVICE_GET, None)
    assert response == dict(DEFAULTS)


# --- set ---------------------------------------------------------------------------------------


async def test_set_meter_settings_puts_only_the_given_fields(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """One PUT of exactly the given fields; the response is the settings read back."""
    response = await call(hass, SERVICE_SET, loaded_entry, if_type="p1", protocol="dsmr")
    assert meter_writes(emulator) == [("PUT", {"if_type": "p1", "protocol": "dsmr"})]
    assert response == {**DEFAULTS, "if_type": "p1", "protocol": "dsmr"}
    assert loaded_entry.runtime_data.meter_settings.data.if_type == "p1"


async def test_set_meter_settings_accepts_yaml_numbers(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A whole number given as 9600.0 (number selector, template) goes out as 9600."""
    await call(hass, SERVICE_SET, loaded_entry, baudrate=9600.0, conv_factor=1.0)
    assert meter_writes(emulator) == [("PUT", {"baudrate": 9600, "conv_factor": 1})]


@pytest.mark.parametrize("spelling", ["device", "key"])
async def test_write_actions_take_a_choice_as_the_device_spells_it_or_as_its_key(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator, spelling: str
) -> None:
    """ "1.5" (the vendor's spelling) and 1_5 (the selector's key) both send "1.5"; the response
    mirrors the device API: its own spelling."""
    given = {"stop_bits": "1.5", "method": "Passive Push"}
    if spelling == "key":
        given = {"stop_bits": "1_5", "method": "passive_push"}
    response = await call(hass, SERVICE_SET, loaded_entry, **given)
    sent = {"stop_bits": "1.5", "method": "Passive Push"}
    assert meter_writes(emulator) == [("PUT", sent)]
    assert response == {**DEFAULTS, **sent}
    emulator.log.clear()
    response = await call(hass, SERVICE_REPLACE, loaded_entry, **given)
    assert meter_writes(emulator) == [("POST", {**DEFAULTS, **sent})]
    assert response == {**DEFAULTS, **sent}


async def test_set_meter_settings_needs_at_least_one_setting(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Nothing to change is an error that lists what can be changed."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, SERVICE_SET, loaded_entry)
    assert err.value.translation_key == "setting_none_given"
    assert "baudrate" in str(err.value)
    assert emulator.log == []


INVALID = [
    pytest.param("baudrate", 100, "out_of_range", id="int-below-range"),
    pytest.param("time_offset", -(2**31) - 1, "out_of_range", id="int32-underflow"),
    pytest.param("buffer_size", 1.5, "invalid_type", id="int-fraction"),
    pytest.param("conv_factor", 5000, "out_of_range", id="float-above-range"),
    pytest.param("conv_factor", "2", "invalid_type", id="float-as-text"),
    pytest.param("protocol", "modbus", "invalid_option", id="enum-unknown-option"),
    pytest.param("stop_bits", 2, "invalid_type", id="enum-not-text"),
    pytest.param("encryption", "true", "invalid_type", id="bool-as-text"),
    pytest.param("baud_rate", 9600, "unknown_field", id="unknown-field"),
]


@pytest.mark.parametrize(("field", "value", "reason"), INVALID)
@pytest.mark.parametrize("service", [SERVICE_SET, SERVICE_REPLACE])
async def test_write_actions_refuse_invalid_values_naming_the_field(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    service: str,
    field: str,
    value: Any,
    reason: str,
) -> None:
    """Each schema rule: a translated validation error naming the field, nothing sent."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, loaded_entry, **{field: value, "if_mode": "pull"})
    assert err.value.translation_key == f"setting_{reason}"
    assert err.value.translation_placeholders["field"] == field
    assert field in str(err.value)
    assert emulator.log == []


@pytest.mark.parametrize("service", [SERVICE_SET, SERVICE_REPLACE])
async def test_write_actions_refuse_keys_without_logging_them(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    service: str,
) -> None:
    """Home Assistant records action data, so a key is refused (use the options flow); the
    refusal does not repeat the key anywhere in the log."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, loaded_entry, encryption=True, encryption_key=KEY)
    assert err.value.translation_key == "setting_key_not_accepted"
    assert err.value.translation_placeholders == {"field": "encryption_key"}
    assert KEY not in str(err.value)
    assert KEY not in caplog.text
    assert emulator.log == []


async def test_write_action_with_a_typo_and_a_key_does_not_log_the_key(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Home Assistant logs the data of a call its schema rejects: ours rejects nothing itself,
    so even a call with an unknown field and a key leaves no key in the log."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ServiceValidationError):
        await call(hass, SERVICE_SET, loaded_entry, baud=1, authentication_key=KEY)
    with pytest.raises(ServiceValidationError):
        await call(hass, SERVICE_SET, None, config_entry_id=7, authentication_key=KEY)
    assert KEY not in caplog.text


WRITES = [
    pytest.param(SERVICE_SET, {"time_offset": 10}, id="set_meter_settings"),
    pytest.param(
        SERVICE_SET_SCALERS,
        {"scalers": [{"obis": "1.8.255", "scaler": 3}]},
        id="set_custom_scalers",
    ),
]
"""A call of each write action that the device would accept."""


@pytest.mark.parametrize(
    ("fault", "translation_key"),
    [
        pytest.param({"fail_next": 400}, "device_rejected", id="rejected"),
        pytest.param({"fail_next": 503}, "device_rejected", id="device-error"),
        pytest.param({"reset_next": 2}, "cannot_connect", id="connection-lost"),
        pytest.param({"malformed_json_next": 2}, "device_rejected", id="malformed-read-back"),
    ],
)
@pytest.mark.parametrize(("service", "data"), WRITES)
async def test_write_actions_device_failures_are_errors_not_success(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    service: str,
    data: dict[str, Any],
    fault: dict[str, int],
    translation_key: str,
) -> None:
    """A write the device refused or did not confirm raises a translated error."""
    arm(emulator, fault)
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, service, loaded_entry, **data)
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == translation_key
    assert str(err.value)


@pytest.mark.parametrize(("service", "data"), WRITES)
async def test_write_actions_with_a_changed_password_start_reauthentication(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    service: str,
    data: dict[str, Any],
) -> None:
    """A rejected password: an error, and Home Assistant asks for the new password."""
    emulator.set_password("changed")
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, service, loaded_entry, **data)
    await hass.async_block_till_done()
    assert err.value.translation_key == "invalid_auth"
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_set_meter_settings_reports_a_change_the_device_ignored(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """200 but the old value read back: not reported as done."""
    store = emulator.store_meter_settings
    monkeypatch.setattr(
        emulator, "store_meter_settings", lambda values: store({**values, "if_mode": "auto"})
    )
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, SERVICE_SET, loaded_entry, if_mode="pull")
    assert err.value.translation_key == "setting_not_applied"
    assert err.value.translation_placeholders == {"name": "whatwatt Go 9F8124", "field": "if_mode"}


async def test_unexpected_client_error_is_a_translated_error(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Any other client failure is still reported, translated, never as success."""
    with (
        patch.object(
            loaded_entry.runtime_data.client,
            "update_meter_settings",
            side_effect=WhatwattError("boom"),
        ),
        pytest.raises(HomeAssistantError) as err,
    ):
        await call(hass, SERVICE_SET, loaded_entry, time_offset=10)
    assert err.value.translation_key == "unknown_error"
    assert "boom" in str(err.value)


# --- replace -----------------------------------------------------------------------------------


async def test_replace_meter_settings_posts_given_fields_and_defaults_for_the_rest(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """POST of a complete configuration: the given fields, the documented defaults for all
    others; the device forgets its keys (POST semantics)."""
    emulator.store_meter_settings(
        {**emulator.meter_settings, "baudrate": 9600, "parity": "even", "encryption_key": KEY}
    )
    response = await call(hass, SERVICE_REPLACE, loaded_entry, if_type="mbus", time_offset=-60)
    expected = {**DEFAULTS, "if_type": "mbus", "time_offset": -60}
    assert meter_writes(emulator) == [("POST", expected)]
    assert response == expected
    assert emulator.meter_settings["encryption_key"] == ""
    assert loaded_entry.runtime_data.meter_settings.data.as_dict() == expected


async def test_replace_meter_settings_without_fields_restores_the_defaults(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """No field at all: the factory defaults."""
    emulator.store_meter_settings({**emulator.meter_settings, "scalers_set": "lge570"})
    assert await call(hass, SERVICE_REPLACE, loaded_entry) == dict(DEFAULTS)
    assert meter_writes(emulator) == [("POST", dict(DEFAULTS))]


# --- target --------------------------------------------------------------------------------------


async def test_actions_refuse_an_unknown_gateway(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """An entry id that does not exist is a clear validation error."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, SERVICE_SET, {ATTR_CONFIG_ENTRY_ID: "nope", "time_offset": 1}, blocking=True
        )
    assert err.value.translation_key == "service_config_entry_not_found"
    assert emulator.log == []


async def test_actions_refuse_a_gateway_that_is_not_loaded(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """A known but not loaded gateway is a clear validation error."""
    assert await async_setup_component(hass, DOMAIN, {})
    entry = make_entry(emulator)
    entry.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, SERVICE_GET, entry)
    assert err.value.translation_key == "service_config_entry_not_loaded"


async def test_actions_refuse_a_config_entry_id_that_is_not_text(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """A number as config_entry_id is refused with our own translated error."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, SERVICE_GET, None, config_entry_id=12)
    assert err.value.translation_key == "setting_entry_id_invalid"


async def test_write_actions_are_for_administrators_only(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    hass_read_only_user: MockUser,
) -> None:
    """Changing the meter link or the scaling is an admin action; reading is not."""
    context = Context(user_id=hass_read_only_user.id)
    data = {ATTR_CONFIG_ENTRY_ID: loaded_entry.entry_id}
    writes = {
        SERVICE_SET: {"time_offset": 1},
        SERVICE_REPLACE: {},
        SERVICE_SET_SCALERS: {"scalers": []},
    }
    for name, fields in writes.items():
        with pytest.raises(Unauthorized):
            await hass.services.async_call(
                DOMAIN, name, {**data, **fields}, blocking=True, context=context
            )
    assert [request for request in emulator.log if request.method != "GET"] == []
    reads = {SERVICE_GET: dict(DEFAULTS), SERVICE_GET_SCALERS: {"scalers": []}}
    for name, expected in reads.items():
        response = await hass.services.async_call(
            DOMAIN, name, data, blocking=True, context=context, return_response=True
        )
        assert response == expected


def test_actions_have_icons() -> None:
    """Every action has an icon (icons.json, not code)."""
    icons = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))
    for name in SERVICES:
        assert icons["services"][name]["service"].startswith("mdi:")
