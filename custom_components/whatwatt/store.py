"""What a config entry keeps across restarts and reloads: one file per entry, a part per owner.

The device is the store of its settings; Home Assistant keeps only what the device cannot
tell: the last settings change whose effect on the meter link is still in question (``link``,
the previous readable values, never a key).  Each owner reads its part after ``async_load``
and writes it with ``async_set``.  Nothing is kept for an entry that is removed
(``async_remove``).
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 1.0
"""Seconds a write waits for others to join it (unload and HA's stop write at once)."""


def _key(entry_id: str) -> str:
    return f"{DOMAIN}.{entry_id}"


class WhatwattStore:
    """The entry's file in ``.storage``: ``whatwatt.<entry id>``."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare the store of ``entry_id``; ``async_load`` reads it."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, _key(entry_id), atomic_writes=True
        )
        self._data: dict[str, Any] = {}
        self._dirty = False

    async def async_load(self) -> None:
        """Read what was kept (nothing the first time)."""
        self._data = dict(await self._store.async_load() or {})

    def get(self, part: str) -> Any:
        """Return what ``part``'s owner kept (None when nothing)."""
        return self._data.get(part)

    @callback
    def async_set(self, part: str, value: Any) -> None:
        """Keep ``value`` for ``part`` (None: forget it); written within a second."""
        if value is None:
            if self._data.pop(part, None) is None:
                return
        else:
            self._data[part] = value
        self._dirty = True
        self._store.async_delay_save(self._saved, SAVE_DELAY)

    def _saved(self) -> dict[str, Any]:
        self._dirty = False
        return dict(self._data)

    async def async_flush(self) -> None:
        """Write a pending change now (the entry unloads: the next setup reads the file)."""
        if self._dirty:
            await self._store.async_save(self._saved())


async def async_remove(hass: HomeAssistant, entry_id: str) -> None:
    """Delete everything kept for ``entry_id`` (the entry was removed)."""
    await Store[dict[str, Any]](hass, STORAGE_VERSION, _key(entry_id)).async_remove()
