"""Exceptions raised by the whatwatt Go client.

Messages never contain the Web UI password or a DLMS key: they name the device, the path and
what the device answered, nothing the user typed as a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .meter_settings import MeterSettings
    from .scalers import Scaler


class WhatwattError(Exception):
    """Base class of every error raised by this client."""


class WhatwattConnectionError(WhatwattError):
    """The device could not be reached (refused, reset, DNS, dropped mid-answer)."""


class WhatwattTimeoutError(WhatwattConnectionError):
    """The device did not answer in time."""


class WhatwattAuthError(WhatwattError):
    """The device rejected the credentials (or asked for a password none was given for)."""


class WhatwattResponseError(WhatwattError):
    """The device answered with an error status or with a body that is not what was asked for."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        device_message: str | None = None,
    ) -> None:
        """Keep the HTTP status and the device's own error key and message."""
        super().__init__(message)
        self.status = status
        self.error = error
        self.device_message = device_message


class WhatwattLicenseRequired(WhatwattResponseError):
    """The endpoint needs a PLUS or PRO license and the device has FREE (404 License required)."""


class WhatwattStreamTakenOver(WhatwattConnectionError):
    """The device closed the live stream right after it opened: another client holds it."""


class WhatwattStreamStale(WhatwattTimeoutError):
    """The live stream stayed silent for longer than the device's report interval allows."""


class WhatwattNotApplied(WhatwattError):
    """The device accepted a write but reads something else back for ``field``."""

    def __init__(self, field: str) -> None:
        """Name what did not take effect (never the value: it may be a key)."""
        super().__init__(f"the device did not apply {field}")
        self.field = field


class WhatwattSettingNotApplied(WhatwattNotApplied):
    """The device accepted a meter-settings write but reads another value back for ``field``.

    ``settings`` is what it read back (the truth to show); the value is never in the message:
    it may be a key.
    """

    def __init__(self, field: str, settings: MeterSettings) -> None:
        """Name the field that did not take effect."""
        super().__init__(field)
        self.settings = settings


class WhatwattScalersNotApplied(WhatwattNotApplied):
    """The device accepted a custom scaler list but reads another list back.

    ``field`` is ``scalers`` (the whole list: it is written at once); ``scalers`` is the list
    read back.
    """

    def __init__(self, scalers: list[Scaler]) -> None:
        """Keep the list the device reads back."""
        super().__init__("scalers")
        self.scalers = scalers


class InvalidValue(ValueError):
    """A field's check refused a value, for ``reason`` (a WhatwattValidationError code).

    Internal: the validators turn it into a WhatwattValidationError that names the field.
    """

    def __init__(self, reason: str) -> None:
        """Keep the reason code (never the value: it may be a key)."""
        super().__init__(reason)
        self.reason = reason


class WhatwattValidationError(WhatwattError, ValueError):
    """A meter setting or a custom scaler failed validation before anything was sent.

    ``field`` is the API field name (for a scaler, the row's path: ``scalers.2.obis``),
    ``reason`` a stable code usable as a translation key: for meter settings
    ``unknown_field``, ``invalid_type``, ``out_of_range``, ``invalid_option``, ``invalid_key``;
    for scalers one of ``scalers.Reason``.  ``allowed`` describes the accepted values for a
    message.
    """

    def __init__(self, field: str, reason: str, allowed: str = "") -> None:
        """Name the field and why it was rejected (never the rejected value: it may be a key)."""
        super().__init__(f"{field}: {reason}" + (f" (allowed: {allowed})" if allowed else ""))
        self.field = field
        self.reason = reason
        self.allowed = allowed
