"""One way from a client error to what a user sees, shared by every caller.

The coordinators raise UpdateFailed / ConfigEntryAuthFailed, entity actions and actions raise
HomeAssistantError (ServiceValidationError for bad input), and the flows show a form error:
all with the same translation keys, chosen here and nowhere else:

* ``invalid_auth``: the device rejected the password (re-authentication is started);
* ``cannot_connect``: the device did not answer;
* ``device_rejected``: it answered, but refused the request (or answered nonsense);
* ``setting_not_applied``: it accepted a meter setting (or the custom scaler list, field
  ``scalers``) but reads another value back;
* ``unknown_error``: anything else the client raised.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Concatenate

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .client import (
    WhatwattAuthError,
    WhatwattConnectionError,
    WhatwattError,
    WhatwattNotApplied,
    WhatwattResponseError,
    WhatwattValidationError,
)
from .const import DOMAIN

if TYPE_CHECKING:
    from .coordinator import WhatwattConfigEntry
    from .entity import WhatwattEntity


def error_translation(err: WhatwattError, name: str) -> tuple[str, dict[str, str]]:
    """Return the translation key and placeholders that tell a user what went wrong.

    Never the rejected value: it may be a DLMS key (the client keeps keys out of its messages).
    """
    if isinstance(err, WhatwattAuthError):
        return "invalid_auth", {"name": name}
    if isinstance(err, WhatwattConnectionError):
        return "cannot_connect", {"name": name, "error": str(err)}
    if isinstance(err, WhatwattNotApplied):
        return "setting_not_applied", {"name": name, "field": err.field}
    if isinstance(err, WhatwattResponseError):
        return "device_rejected", {"name": name, "error": str(err)}
    return "unknown_error", {"name": name, "error": str(err)}


def validation_error(err: WhatwattValidationError) -> ServiceValidationError:
    """Return the translated error for a value refused before anything was sent."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=f"setting_{err.reason}",
        translation_placeholders={"field": err.field, "allowed": err.allowed},
    )


@contextmanager
def translated_errors(
    hass: HomeAssistant, entry: WhatwattConfigEntry | None, *, name: str | None = None
) -> Iterator[None]:
    """Turn client errors into translated Home Assistant errors (flows, actions, entities).

    Bad input becomes a ServiceValidationError naming the field; whatever the device or the
    network did becomes a HomeAssistantError.  A rejected password starts re-authentication
    of ``entry`` (flows that have no entry yet pass ``name`` instead).
    """
    try:
        yield
    except WhatwattValidationError as err:
        raise validation_error(err) from err
    except WhatwattError as err:
        if isinstance(err, WhatwattAuthError) and entry is not None:
            entry.async_start_reauth(hass)
        key, placeholders = error_translation(err, name or (entry.title if entry else ""))
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders=placeholders,
        ) from err


def whatwatt_exception_handler[EntityT: WhatwattEntity[Any], **P](
    func: Callable[Concatenate[EntityT, P], Coroutine[Any, Any, None]],
) -> Callable[Concatenate[EntityT, P], Coroutine[Any, Any, None]]:
    """Decorate an entity action: client errors become translated errors, never "done"."""

    async def handler(self: EntityT, /, *args: P.args, **kwargs: P.kwargs) -> None:
        with translated_errors(self.hass, self.coordinator.config_entry):
            await func(self, *args, **kwargs)

    return handler
