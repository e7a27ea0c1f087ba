"""What an entry keeps across restarts (``store.py``): one file per entry, a part per owner."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant

from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.store import WhatwattStore, async_remove


async def test_parts_are_kept_written_once_and_removed(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A part set is written (at once on flush), a flush with nothing new writes nothing, a
    part set to None is forgotten, and removing the entry removes the file."""
    key = f"{DOMAIN}.entry1"
    store = WhatwattStore(hass, "entry1")
    await store.async_load()
    assert store.get("link") is None
    store.async_set("link", {"fields": {}})
    store.async_set("demand", {"15": {}})
    await store.async_flush()
    assert hass_storage[key]["data"] == {"link": {"fields": {}}, "demand": {"15": {}}}
    hass_storage[key]["data"] = {"written": "by someone else"}
    await store.async_flush()  # nothing new: nothing written
    assert hass_storage[key]["data"] == {"written": "by someone else"}
    store.async_set("nothing", None)  # forgetting what is not there changes nothing
    await store.async_flush()
    assert hass_storage[key]["data"] == {"written": "by someone else"}
    store.async_set("link", None)
    await store.async_flush()
    assert hass_storage[key]["data"] == {"demand": {"15": {}}}
    again = WhatwattStore(hass, "entry1")
    await again.async_load()
    assert again.get("demand") == {"15": {}}
    await async_remove(hass, "entry1")
    assert key not in hass_storage
