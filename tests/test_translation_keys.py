"""Every key Home Assistant looks texts and icons up by follows hassfest's rules.

Mirrors hassfest of home-assistant/core, ``script/hassfest/translations.py`` at commit
00a70521db04c9882a34d93ca23bee2f6d2334d5 (``RE_TRANSLATION_KEY``, ``translation_key_validator``,
``gen_strings_schema``), ``script/hassfest/icons.py`` at 02266b159da8dc58a836fc407805697df0fbd123
and ``script/hassfest/services.py`` at 01a7395c1b1c65b88af3596a290c64781e826319:

- a translation key is ``^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$``: lowercase letters,
  digits, ``-`` and ``_``, not starting or ending with ``-``/``_``, no ``--``/``__`` inside;
- translation files: selector options (and choices, fields, units), entity translation keys,
  entity states and state attributes (and their states), device keys, action names, action
  fields and action sections are translation keys; entity platforms, exceptions and selector
  names are slugs (``cv.slug``; a selector may also be ``_``);
- icons.json: entity translation keys, state keys and action names are translation keys
  (entity platforms slugs); the newer per-action ``sections`` are checked the same way;
- services.yaml: action names are slugs (services.py) and, being translated, translation keys.

For a custom integration hassfest checks ``translations/en.json`` only; here every language
is checked.  Stricter than hassfest, which lets these be any string: the
options of a select selector in services.yaml (the frontend translates them by
``selector.<translation_key>.options.<option>``, which hassfest does check), its field and
section names, issue ids, and the step ids, section names, field names, menu options, error
and abort keys of the config and options flows are held to the translation-key rule too.

That every translation file has the same keys as en.json is checked by
``tests/test_init.py::test_every_language_is_complete``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
import copy
import json
from pathlib import Path
import re
from typing import Any

from homeassistant.util import slugify
from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.whatwatt.client.meter_settings import SPECS

INTEGRATION = Path(__file__).resolve().parent.parent / "custom_components/whatwatt"
TRANSLATION_FILES = sorted((INTEGRATION / "translations").glob("*.json"))
ENGLISH = INTEGRATION / "translations/en.json"
RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
"""hassfest's ``RE_TRANSLATION_KEY`` (script/hassfest/translations.py)."""

type Rule = Callable[[str], bool]


def is_key(key: str) -> bool:
    """hassfest's ``translation_key_validator``."""
    return RE_TRANSLATION_KEY.match(key) is not None


def is_slug(key: str) -> bool:
    """Home Assistant's ``cv.slug``."""
    return slugify(key) == key


def is_selector_name(key: str) -> bool:
    """hassfest's ``vol.Any("_", cv.slug)`` for selector names."""
    return key == "_" or is_slug(key)


class Checker:
    """Collect every key that breaks its rule, as ``path.key``."""

    def __init__(self) -> None:
        """Start with no problem found."""
        self.bad: list[str] = []

    def keys(self, rule: Rule, where: str, keys: Iterable[str]) -> None:
        """Check ``keys`` (a mapping's keys or a list of options) found at ``where``."""
        self.bad += [f"{where}.{key}" for key in keys if not rule(key)]

    def entities(self, entities: Mapping[str, Any]) -> None:
        """Check ``entity``: platforms, entity keys, their states (texts and icons alike)."""
        self.keys(is_slug, "entity", entities)
        for platform, by_key in entities.items():
            self.keys(is_key, f"entity.{platform}", by_key)
            for key, texts in by_key.items():
                self.states(f"entity.{platform}.{key}", texts)

    def states(self, where: str, texts: Mapping[str, Any]) -> None:
        """Check an entity's (or state attribute's) ``state`` and ``state_attributes``."""
        self.keys(is_key, f"{where}.state", texts.get("state", {}))
        attributes = texts.get("state_attributes", {})
        self.keys(is_key, f"{where}.state_attributes", attributes)
        for name, attribute in attributes.items():
            self.keys(is_key, f"{where}.state_attributes.{name}.state", attribute.get("state", {}))


def translation_problems(strings: Mapping[str, Any]) -> list[str]:
    """Return the keys of a translation file that break hassfest's rules (or ours, above)."""
    check = Checker()
    for flow in ("config", "options"):
        texts = strings.get(flow, {})
        for part in ("error", "abort"):
            check.keys(is_key, f"{flow}.{part}", texts.get(part, {}))
        steps = texts.get("step", {})
        check.keys(is_key, f"{flow}.step", steps)
        for step_id, step in steps.items():
            where = f"{flow}.step.{step_id}"
            for part in ("data", "data_description", "menu_options"):
                check.keys(is_key, f"{where}.{part}", step.get(part, {}))
            sections = step.get("sections", {})
            check.keys(is_key, f"{where}.sections", sections)
            for name, section in sections.items():
                for part in ("data", "data_description"):
                    check.keys(is_key, f"{where}.sections.{name}.{part}", section.get(part, {}))
    selectors = strings.get("selector", {})
    check.keys(is_selector_name, "selector", selectors)
    for name, selector in selectors.items():
        for part in ("options", "choices", "unit_of_measurement", "fields"):
            check.keys(is_key, f"selector.{name}.{part}", selector.get(part, {}))
    check.entities(strings.get("entity", {}))
    check.keys(is_key, "device", strings.get("device", {}))
    check.keys(is_slug, "exceptions", strings.get("exceptions", {}))
    check.keys(is_key, "issues", strings.get("issues", {}))
    services = strings.get("services", {})
    check.keys(is_key, "services", services)
    for name, service in services.items():
        for part in ("fields", "sections"):
            check.keys(is_key, f"services.{name}.{part}", service.get(part, {}))
    return check.bad


def icon_problems(icons: Mapping[str, Any]) -> list[str]:
    """Return the keys of icons.json that break hassfest's rules."""
    check = Checker()
    check.entities(icons.get("entity", {}))
    services = icons.get("services", {})
    check.keys(is_key, "services", services)
    for name, icon in services.items():
        if isinstance(icon, Mapping):
            check.keys(is_key, f"services.{name}.sections", icon.get("sections", {}))
    return check.bad


def services_yaml_problems(services: Mapping[str, Any]) -> list[str]:
    """Return the names and options of services.yaml that are no valid translation keys."""
    check = Checker()
    check.keys(lambda name: is_slug(name) and is_key(name), "", services)
    for name, service in services.items():
        fields = (service or {}).get("fields", {})
        check.keys(is_key, name, fields)  # field and section names
        for key, field in fields.items():
            section = field.get("fields")
            if section is not None:
                check.keys(is_key, f"{name}.{key}", section)
            for sub, spec in (section or {key: field}).items():
                check.keys(is_key, f"{name}.{sub}.options", _select_options(spec))
    return check.bad


def _select_options(field: Mapping[str, Any]) -> list[str]:
    """The option values of a field's select selector (plain or ``{value, label}``)."""
    options = field.get("selector", {}).get("select", {}).get("options", [])
    return [option["value"] if isinstance(option, Mapping) else option for option in options]


def _translations(path: Path) -> dict[str, Any]:
    texts: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return texts


def _icons() -> dict[str, Any]:
    icons: dict[str, Any] = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))
    return icons


def _services() -> dict[str, Any]:
    return load_yaml_dict(str(INTEGRATION / "services.yaml"))


@pytest.mark.parametrize("path", TRANSLATION_FILES, ids=lambda path: path.name)
def test_translation_files_follow_the_key_rules(path: Path) -> None:
    """Selector options, entity states, actions, fields, sections, issues, devices: all keys."""
    assert translation_problems(_translations(path)) == []


def test_icons_follow_the_key_rules() -> None:
    """icons.json: entity keys, state keys and action names."""
    assert icon_problems(_icons()) == []


def test_services_yaml_follows_the_key_rules() -> None:
    """services.yaml: action names, fields, sections and the options of each select."""
    assert services_yaml_problems(_services()) == []


def test_every_setting_choice_has_a_valid_translation_key() -> None:
    """The keys the integration offers for the device's choices pass hassfest's rule."""
    keys = [key for spec in SPECS.values() for key in spec.option_keys]
    assert "1_5" in keys
    assert "passive_push" in keys
    assert [key for key in keys if not is_key(key)] == []


_BAD_TRANSLATIONS = [
    (("selector", "stop_bits", "options"), "1.5"),
    (("selector", "method", "options"), "Passive Push"),
    (("entity", "select", "stop_bits", "state"), "1.5"),
    (("entity", "sensor", "tariff", "state"), "_1"),
    (("entity", "select"), "Stop-bits"),
    (("entity",), "Select"),
    (("device",), "meter_"),
    (("issues",), "Meter key required"),
    (("exceptions",), "setting-rejected"),
    (("selector",), "Stop bits"),
    (("services",), "set-meter--settings"),
    (("services", "set_meter_settings", "fields"), "baud rate"),
    (("services", "set_meter_settings", "sections"), "time__scaling"),
    (("options", "step", "edit", "sections"), "Serial"),
    (("options", "step", "edit", "sections", "serial", "data"), "stop.bits"),
    (("options", "step"), "-edit"),
    (("config", "error"), "Cannot connect"),
]
_BAD_ICONS = [
    (("entity", "switch", "encryption", "state"), "Off"),
    (("entity", "sensor"), "meter__status"),
    (("entity",), "Sensor"),
    (("services",), "set meter settings"),
]
_BAD_SERVICES = [
    (("set_meter_settings", "fields", "serial", "fields", "stop_bits", "selector", "select",
      "options"), "1.5"),
    (("set_meter_settings", "fields", "interface", "fields", "method", "selector", "select",
      "options"), "Passive Push"),
    (("set_meter_settings", "fields", "serial", "fields"), "Baud-rate"),
    (("set_meter_settings", "fields"), "serial_"),
    ((), "Set meter settings"),
]  # fmt: skip


def _with_bad_key(tree: dict[str, Any], path: tuple[str, ...], bad: str) -> dict[str, Any]:
    """Return a copy of ``tree`` with ``bad`` added as a key (or list item) at ``path``."""
    tree = copy.deepcopy(tree)
    node: Any = tree
    for part in path:
        node = node[part]
    if isinstance(node, list):
        node.append(bad)
    else:
        node[bad] = copy.deepcopy(next(iter(node.values())))
    return tree


def _cases(
    name: str,
    problems: Callable[[Mapping[str, Any]], list[str]],
    load: Callable[[], dict[str, Any]],
    cases: list[tuple[tuple[str, ...], str]],
) -> list[Any]:
    return [
        pytest.param(problems, load, path, bad, id=f"{name}:{'.'.join(path)}:{bad}")
        for path, bad in cases
    ]


@pytest.mark.parametrize(
    ("problems", "load", "path", "bad"),
    [
        *_cases("en.json", translation_problems, lambda: _translations(ENGLISH), _BAD_TRANSLATIONS),
        *_cases("icons.json", icon_problems, _icons, _BAD_ICONS),
        *_cases("services.yaml", services_yaml_problems, _services, _BAD_SERVICES),
    ],
)
def test_the_rules_catch_a_bad_key(
    problems: Callable[[Mapping[str, Any]], list[str]],
    load: Callable[[], dict[str, Any]],
    path: tuple[str, ...],
    bad: str,
) -> None:
    """Each rule rejects what hassfest rejects, such as the old "1.5" and "Passive Push"."""
    found = problems(_with_bad_key(load(), path, bad))
    assert len(found) == 1
    assert found[0].endswith(f".{bad}")
