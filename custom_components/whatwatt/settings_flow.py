"""The steps of a meter-settings change, shared by the options flow and the repair flow.

Both flows write meter settings the same way and offer the same choices after a change that
cut the meter link, from this one set of steps:

* ``edit``: the form, opened on what the device reports now; one PUT with only what the user
  changed, checked read back.  Nothing about these settings, never a key, is kept in the
  config entry.  Keys are password fields that start empty (empty = leave the key as it is); a
  "clear" toggle per key sends the documented 32 zeros.  A key typed in is not put back into
  the form after an error: it goes to the device and nowhere else.
* ``confirm``: changes that can cut the link (``link.link_risk``) are confirmed first.
* ``check_link``: a progress step while the link is checked after the write.
* ``link_lost`` / ``link_lost_key`` / ``link_unreachable``: what happened and what the user can
  do: undo (one PUT of the previous values), enter the key again or clear it, edit again, or
  keep it as it is.

Every field, selector, range and section comes from ``SPECS``.  The selectors show the ranges
and choices in the UI but do not enforce them (``ShownNotEnforced``): ``meter_settings.validate``
does, so every bad value comes back as a translated error on the section of the field, with
nothing sent.  A choice is offered as its translation key (``SettingSpec.option_keys``:
``1_5``) and sent as the device spells it (``"1.5"``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import re
from typing import Any, Final

from homeassistant.data_entry_flow import FlowContext, FlowHandler, FlowResult, section
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    Selector,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .client import MeterSettings
from .client.exceptions import (
    WhatwattResponseError,
    WhatwattSettingNotApplied,
    WhatwattValidationError,
)
from .client.meter_settings import (
    CLEAR_KEY,
    SECRET_KEYS,
    SPECS,
    FieldType,
    Section,
    SettingSpec,
    validate as validate_settings,
)
from .const import DOMAIN
from .coordinator import WhatwattConfigEntry
from .errors import translated_errors
from .link import Link, LinkCheck, LinkRisk, MeterSettingsWrite, link_risk
from .texts import (
    async_load_texts,
    change_text,
    error_placeholders,
    meter_status_label,
    setting_label,
)

STEP_EDIT: Final = "edit"
STEP_CONFIRM: Final = "confirm"
STEP_CHECK_LINK: Final = "check_link"
STEP_LINK_OK: Final = "link_ok"
STEP_LINK_LOST: Final = "link_lost"
STEP_LINK_LOST_KEY: Final = "link_lost_key"
STEP_LINK_UNREACHABLE: Final = "link_unreachable"
STEP_CHECK_INTERRUPTED: Final = "check_interrupted"
CLEAR_PREFIX: Final = "clear_"
"""``clear_<key>``: a toggle next to each DLMS key that clears it (sends 32 zeros)."""


class ShownNotEnforced:
    """A selector that describes the field to the UI but lets any value through.

    The form's own check (``meter_settings.validate``, ``scalers.validate``, ...) turns each bad
    value into a translated form error naming it, instead of a schema failure.
    """

    def __call__(self, data: Any) -> Any:
        return data


class _Select(ShownNotEnforced, SelectSelector):
    """Dropdown of a setting's allowed values."""


class _Number(ShownNotEnforced, NumberSelector):
    """Number box with the setting's documented range."""


class _Boolean(ShownNotEnforced, BooleanSelector):
    """Toggle."""


class _Text(ShownNotEnforced, TextSelector):
    """Password field for a DLMS key."""


def setting_selector(spec: SettingSpec) -> Selector[Any]:
    """Return the selector for one setting, from its spec (validation is the schema's)."""
    if spec.type is FieldType.ENUM:
        return _Select(
            SelectSelectorConfig(
                options=list(spec.option_keys),
                translation_key=spec.key,
                mode=SelectSelectorMode.DROPDOWN,
            )
        )
    if spec.type is FieldType.BOOL:
        return _Boolean()
    if spec.type is FieldType.KEY:
        return _Text(TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off"))
    minimum, maximum = spec.bounds
    config = NumberSelectorConfig(
        min=minimum,
        max=maximum,
        mode=NumberSelectorMode.BOX,
        step=1 if spec.type is FieldType.INT else "any",
    )
    if spec.unit:
        config["unit_of_measurement"] = spec.unit
    return _Number(config)


def edit_schema(current: MeterSettings) -> probatio.Schema:
    """Build the edit form: one section per Section, the fields this device reports, the keys."""
    fields: dict[Section, dict[probatio.Marker, Any]] = {part: {} for part in Section}
    for spec in SPECS.values():
        if spec.write_only:
            fields[spec.section][probatio.Optional(spec.key)] = setting_selector(spec)
            fields[spec.section][probatio.Optional(CLEAR_PREFIX + spec.key, default=False)] = (
                _Boolean()
            )
        elif getattr(current, spec.key) is not None:
            fields[spec.section][probatio.Optional(spec.key)] = setting_selector(spec)
    return probatio.Schema(
        {
            probatio.Required(part.value): section(
                probatio.Schema(part_fields), {"collapsed": False}
            )
            for part, part_fields in fields.items()
            if part_fields
        }
    )


def _by_section(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Nest flat field values by section, as the form's suggested values (choices as keys)."""
    nested: dict[str, dict[str, Any]] = {part.value: {} for part in Section}
    for key, value in values.items():
        spec = SPECS[key.removeprefix(CLEAR_PREFIX)]
        nested[spec.section.value][key] = spec.option_key(value)
    return nested


class _FieldError(Exception):
    """A form error on the section of ``field``."""

    def __init__(self, field: str, reason: str, allowed: str = "", error: str = "") -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.allowed = allowed
        self.error = error


class WhatwattFlow[ContextT: FlowContext, ResultT: FlowResult[Any, str]](
    FlowHandler[ContextT, ResultT, str]
):
    """A flow about one loaded config entry (options or repair): what every step needs."""

    def _entry(self) -> WhatwattConfigEntry:
        """The entry; abort the flow when it is not loaded (no device to talk to)."""
        raise NotImplementedError

    def _finish(self) -> ResultT:
        """End the flow: the work is done (nothing is stored, nothing reloads)."""
        raise NotImplementedError


class MeterSettingsSteps[ContextT: FlowContext, ResultT: FlowResult[Any, str]](
    WhatwattFlow[ContextT, ResultT]
):
    """Edit meter settings, check the link after a change, and deal with a lost link."""

    def __init__(self) -> None:
        """Start with nothing read yet."""
        self._current = MeterSettings()
        self._input: dict[str, Any] = {}
        """The last form input (no key in it), to fill the form in again after an error."""
        self._pending: dict[str, Any] = {}
        """Validated changes waiting for the user's confirmation (memory only)."""
        self._write: MeterSettingsWrite | None = None
        """The last write, whose link check the flow waits for."""
        self._check_task: asyncio.Task[LinkCheck] | None = None
        self._check: LinkCheck | None = None

    async def async_step_edit(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Show the device's current settings; check and apply what the user changed."""
        entry = self._entry()
        if user_input is None:
            return await self._async_open(entry)
        values = {
            key: value
            for part in user_input.values()
            if isinstance(part, dict)
            for key, value in part.items()
        }
        self._input = {key: value for key, value in values.items() if key not in SECRET_KEYS}
        try:
            changes = self._checked_changes(values)
        except _FieldError as err:
            return await self._show_field_error(err)
        if not changes:
            return self._finish()
        if any(link_risk(key, value) is LinkRisk.CONFIRMED for key, value in changes.items()):
            self._pending = changes
            return await self._show_confirm()
        return await self._async_apply(changes)

    async def async_step_confirm(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Apply changes that can cut the meter link once the user has confirmed them."""
        changes, self._pending = self._pending, {}
        return await self._async_apply(changes)

    # --- after a change: is the meter still talking to the gateway? -------------------------

    async def async_step_check_link(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Checking the link to the meter... (only after a change that can cut it)."""
        if self._check_task is None:
            entry = self._entry()
            assert self._write is not None  # the step follows a write
            # In the background: a check lasts up to a minute and must not hold up Home
            # Assistant (its tasks are awaited at shutdown); it ends with the entry.
            self._check_task = entry.async_create_background_task(
                self.hass,
                entry.runtime_data.link.async_outcome(self._write),
                name=f"{DOMAIN} link check outcome",
            )
        if not self._check_task.done():
            return self.async_show_progress(
                step_id=STEP_CHECK_LINK,
                progress_action=self._check_action(),
                progress_task=self._check_task,
            )
        task, self._check_task, self._write = self._check_task, None, None
        self._check = task.result()
        return self.async_show_progress_done(next_step_id=self._after_check(self._check))

    async def async_step_check_interrupted(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """The check stopped before a verdict (another change, or the entry reloaded).

        The change is kept and checked again by the entry; a lost link raises the repair issue.
        """
        return self.async_abort(reason=STEP_CHECK_INTERRUPTED)

    async def async_step_link_ok(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """The meter still talks to the gateway (or nothing could cut the link): done."""
        return self._finish()

    async def async_step_link_lost(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """The meter stopped talking after the change: undo, keep, or edit again."""
        return await self._show_link_menu(STEP_LINK_LOST)

    async def async_step_link_lost_key(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """The link is lost after a key change: undo cannot bring an old key back."""
        return await self._show_link_menu(STEP_LINK_LOST_KEY)

    async def async_step_link_unreachable(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """The gateway stopped answering during the check."""
        return await self._show_link_menu(STEP_LINK_UNREACHABLE)

    async def async_step_undo(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Put back the previous values of exactly the changed fields (one PUT), check again."""
        entry = self._entry()
        try:
            with translated_errors(self.hass, entry):
                self._write = await entry.runtime_data.link.async_undo()
        except HomeAssistantError as err:
            return await self._abort_with(err)
        finally:
            self._current = entry.runtime_data.meter_settings.data
        return await self.async_step_check_link()

    async def async_step_clear_key(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Clear the key(s) the change set (32 zeros), then check again."""
        change = self._entry().runtime_data.link.last_change
        keys = change.keys if change is not None else ()
        if (err := await self._async_write(dict.fromkeys(keys, CLEAR_KEY))) is not None:
            return await self._abort_with(err)
        return await self.async_step_check_link()

    async def async_step_reenter_key(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Back to the form to enter the key again (keys are never filled in)."""
        return self._show_edit(self._input)

    async def async_step_edit_again(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Back to the form with the user's entries (the device's values underneath)."""
        return self._show_edit(self._input)

    async def async_step_keep(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Leave it as it is; the repair issue stays until the link is OK again."""
        return self._finish()

    # --- helpers ----------------------------------------------------------------------------

    def _check_action(self) -> str:
        """What the progress step says while the link is checked (the assistant: its own)."""
        return STEP_CHECK_LINK

    def _after_check(self, check: LinkCheck) -> str:
        """The step that follows a check (the link assistant goes on with its own)."""
        return _next_step(check)

    async def _async_open(self, entry: WhatwattConfigEntry) -> ResultT:
        """Read the settings from the device now and show them (abort if it cannot be read)."""
        try:
            with translated_errors(self.hass, entry):
                self._current = await entry.runtime_data.meter_settings.async_read()
        except HomeAssistantError as err:
            return await self._abort_with(err)
        return self._show_edit(self._current.as_dict())

    def _checked_changes(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return what the user changed, validated and normalised; raise _FieldError if bad.

        Changed means: a value that differs from the device's, a key entered, a key cleared.
        """
        changes: dict[str, Any] = {}
        for spec in SPECS.values():
            if spec.write_only:
                entered = values.get(spec.key)
                clear = values.get(CLEAR_PREFIX + spec.key) is True
                if isinstance(entered, str) and not entered.strip():
                    entered = None  # an empty field: no key entered
                if clear and entered:
                    raise _FieldError(spec.key, "key_conflict")
                if clear:
                    changes[spec.key] = CLEAR_KEY
                elif entered:
                    changes[spec.key] = entered
            elif (value := spec.device_option(values.get(spec.key))) is not None and (
                value != getattr(self._current, spec.key)
            ):
                changes[spec.key] = value
        try:
            return validate_settings(changes)
        except WhatwattValidationError as err:
            raise _FieldError(err.field, err.reason, err.allowed) from None

    async def _async_apply(self, changes: dict[str, Any]) -> ResultT:
        """Send one PUT, check the read-back and the link; keep the form filled in on failure."""
        if (err := await self._async_write(changes)) is None:
            return await self.async_step_check_link()
        cause = err.__cause__
        if isinstance(cause, WhatwattSettingNotApplied):
            return await self._show_field_error(_FieldError(cause.field, "field_not_applied"))
        if (
            isinstance(cause, WhatwattResponseError)
            and cause.status == 400
            and (field := _rejected_field(cause, changes)) is not None
        ):
            return await self._show_field_error(
                _FieldError(field, "field_rejected", error=_device_says(cause))
            )
        errors, placeholders = await self._base_error(err)
        return self._show_edit(self._input, errors, placeholders)

    async def _async_write(
        self, changes: Mapping[str, Any], *, replace: bool = False, restore: bool = False
    ) -> HomeAssistantError | None:
        """Write (and start the link check); return the translated error, if any.

        The settings read back become the form's current values, also after a failure.
        ``replace`` and ``restore`` as ``WhatwattMeterLink.async_write`` takes them.
        """
        entry = self._entry()
        try:
            with translated_errors(self.hass, entry):
                self._write = await entry.runtime_data.link.async_write(
                    changes, replace=replace, restore=restore
                )
        except HomeAssistantError as err:
            return err
        finally:
            self._current = entry.runtime_data.meter_settings.data
        return None

    async def _abort_with(self, err: HomeAssistantError) -> ResultT:
        """End the flow saying what failed (the change stays as it is on the device)."""
        _, placeholders = await self._base_error(err)
        return self.async_abort(
            reason=str(err.translation_key), description_placeholders=placeholders
        )

    async def _show_link_menu(self, step_id: str) -> ResultT:
        """What happened to the link, the change that did it, and what the user can do."""
        await async_load_texts(self.hass)
        entry = self._entry()
        change = entry.runtime_data.link.last_change
        fields = change.fields if change is not None else {}
        keys = change.keys if change is not None else ()
        options = ["undo"] if fields else []
        options += ["reenter_key", "clear_key"] if keys else ["edit_again"]
        options.append("keep")
        status = (
            self._check.meter_status
            if self._check is not None
            else entry.runtime_data.system.meter_status
        )
        return self.async_show_menu(
            step_id=step_id,
            menu_options=options,
            description_placeholders={
                "name": entry.title,
                "status": meter_status_label(self.hass, status),
                "changes": change_text(self.hass, fields, keys),
            },
        )

    async def _base_error(self, err: HomeAssistantError) -> tuple[dict[str, str], dict[str, str]]:
        """Show a failed write as a form error: the same key as the error everywhere else."""
        await async_load_texts(self.hass)
        return {"base": str(err.translation_key)}, error_placeholders(self.hass, err)

    def _show_edit(
        self,
        suggested: Mapping[str, Any],
        errors: dict[str, str] | None = None,
        placeholders: Mapping[str, str] | None = None,
    ) -> ResultT:
        """Show the edit form, filled in with ``suggested`` (never a key)."""
        return self.async_show_form(
            step_id=STEP_EDIT,
            data_schema=self.add_suggested_values_to_schema(
                edit_schema(self._current), _by_section(suggested)
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _show_field_error(self, err: _FieldError) -> ResultT:
        """Show the form again with the error on the field's section, naming the field."""
        await async_load_texts(self.hass)
        placeholders = {
            "field": setting_label(self.hass, err.field),
            "allowed": err.allowed,
            "error": err.error,
        }
        return self._show_edit(
            self._input, {SPECS[err.field].section.value: err.reason}, placeholders
        )

    async def _show_confirm(self) -> ResultT:
        """List the pending changes that can cut the meter link and ask to go ahead."""
        await async_load_texts(self.hass)
        labels = [
            setting_label(self.hass, key)
            for key, value in self._pending.items()
            if link_risk(key, value) is LinkRisk.CONFIRMED
        ]
        return self.async_show_form(
            step_id=STEP_CONFIRM,
            description_placeholders={"changes": "\n".join(f"- {label}" for label in labels)},
        )


def _next_step(check: LinkCheck) -> str:
    """The step that follows a check: done, or what the user can do about a lost link."""
    if check.interrupted:
        return STEP_CHECK_INTERRUPTED
    if check.link in (Link.OK, Link.NOT_CHECKED):
        return STEP_LINK_OK
    if check.link is Link.UNREACHABLE:
        return STEP_LINK_UNREACHABLE
    return STEP_LINK_LOST_KEY if check.change is not None and check.change.keys else STEP_LINK_LOST


def _rejected_field(err: WhatwattResponseError, changes: Mapping[str, Any]) -> str | None:
    """Guess which sent field the device rejected: the one it names, or the only one sent."""
    said = f"{err.error or ''} {err.device_message or ''}"
    named = [key for key in changes if _names(said, key)]
    if named:
        return named[0]
    return next(iter(changes)) if len(changes) == 1 else None


def _names(text: str, key: str) -> bool:
    """Tell whether ``text`` names ``key`` as a whole word (not inside ``encryption_key``)."""
    return re.search(rf"(?<!\w){re.escape(key)}(?!\w)", text) is not None


def _device_says(err: WhatwattResponseError) -> str:
    """What the device said about a rejected write (the client has removed any key)."""
    return err.device_message or err.error or str(err)
