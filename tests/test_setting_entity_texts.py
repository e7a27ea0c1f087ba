"""Every setting entity has a name (and every choice a label) in every language, and an icon."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.const import Platform
import pytest

from custom_components.whatwatt.client.meter_settings import SPECS, FieldType

from .settings_common import SETTING_ENTITIES

INTEGRATION = Path(__file__).resolve().parent.parent / "custom_components/whatwatt"
LANGUAGES = sorted(path.stem for path in (INTEGRATION / "translations").glob("*.json"))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("platform", list(SETTING_ENTITIES))
def test_setting_entities_are_translated(platform: Platform, language: str) -> None:
    """A name per entity; a label per option of every enum select (state and form)."""
    texts = json.loads((INTEGRATION / "translations" / f"{language}.json").read_text("utf-8"))
    for key in SETTING_ENTITIES[platform]:
        entity = texts["entity"][platform][key]
        assert entity["name"]
        if SPECS[key].type is FieldType.ENUM:
            assert set(entity["state"]) == set(SPECS[key].option_keys)
            assert set(texts["selector"][key]["options"]) == set(SPECS[key].option_keys)


@pytest.mark.parametrize("platform", list(SETTING_ENTITIES))
def test_setting_entities_have_icons(platform: Platform) -> None:
    """A default icon per entity; a state icon never repeats the default."""
    icons = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))
    for key in SETTING_ENTITIES[platform]:
        icon = icons["entity"][platform][key]
        assert icon["default"].startswith("mdi:")
        assert icon["default"] not in icon.get("state", {}).values()
