"""One error vocabulary: every key the shared mapping gives exists where it is shown.

``errors.error_translation`` turns a client error into a translation key and placeholders; the
same key is an exception message (actions, entities, coordinators), a form error (config and options
flows) or an abort reason.  Each text must exist, in every language, and use only placeholders
the mapping provides (Home Assistant shows the raw key otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import pytest

from custom_components.whatwatt.client import (
    MeterSettings,
    WhatwattAuthError,
    WhatwattConnectionError,
    WhatwattError,
    WhatwattResponseError,
    WhatwattSettingNotApplied,
)
from custom_components.whatwatt.errors import error_translation

TRANSLATIONS = Path(__file__).parent.parent / "custom_components" / "whatwatt" / "translations"
LANGUAGES = sorted(path.stem for path in TRANSLATIONS.glob("*.json"))
ERRORS: dict[str, WhatwattError] = {
    "invalid_auth": WhatwattAuthError("rejected"),
    "cannot_connect": WhatwattConnectionError("refused"),
    "device_rejected": WhatwattResponseError("answered 400", status=400),
    "setting_not_applied": WhatwattSettingNotApplied("if_mode", MeterSettings()),
    "unknown_error": WhatwattError("odd"),
}
WHERE = {
    "exceptions": set(ERRORS),
    "config.error": set(ERRORS) - {"setting_not_applied"},
    "config.abort": {"cannot_connect", "device_rejected", "unknown_error"},
    "options.error": set(ERRORS),
    "options.abort": set(ERRORS),
    "issues.meter_link_lost.fix_flow.abort": set(ERRORS),
}


def _text(tree: dict[str, Any], section: str, key: str) -> str:
    node: Any = tree
    for part in section.split("."):
        node = node[part]
    value = node[key]
    return value["message"] if isinstance(value, dict) else value


@pytest.mark.parametrize(("key", "error"), ERRORS.items())
def test_each_client_error_has_its_own_key(key: str, error: WhatwattError) -> None:
    """Authentication, connection, refusal, not applied and anything else: five keys."""
    assert error_translation(error, "whatwatt Go 9F8124")[0] == key


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("section", WHERE)
def test_every_shared_key_is_translated_where_it_is_shown(language: str, section: str) -> None:
    """Each key has a text in each place it can appear, with no unknown placeholder."""
    tree = json.loads((TRANSLATIONS / f"{language}.json").read_text())
    for key in WHERE[section]:
        text = _text(tree, section, key)
        _, placeholders = error_translation(ERRORS[key], "whatwatt Go 9F8124")
        assert set(re.findall(r"{(\w+)}", text)) <= set(placeholders), (section, key)
