"""The meter link assistant's steps, shared by the options flow and the repair flow.

``troubleshoot`` shows the meter status in words and the interface, protocol and serial
settings in use, and offers what ``troubleshoot.offers`` gives for that status.  Every step is
the user's choice and one PUT of only the fields it changes, through the same write path and
link check as every other change (``MeterSettingsSteps``): the progress step, then either
``link_working`` (the meter talks) or ``still_not_talking`` with the next offers.  ``give_up``
puts back the readable settings from before the assistant started, in one PUT, and says what
the gateway reports then.  Closing the assistant half-way leaves the last step applied: that
change is checked like any other, and the "link lost after a change" issue offers its undo.
Each menu explains only the steps it offers, in their order (``steps_text``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowContext, FlowResult
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio

from .client import MeterSettings, WhatwattValidationError
from .client.meter_settings import SECRET_KEYS, SPECS, validate as validate_settings
from .const import METER_STATUS
from .entity import gateway_url
from .errors import translated_errors
from .link import Link, LinkCheck
from .settings_flow import STEP_CHECK_INTERRUPTED, MeterSettingsSteps, setting_selector
from .texts import async_load_texts, meter_status_label, setting_label, settings_text, text
from .troubleshoot import (
    SERIAL_FAMILIES,
    SHOWN,
    Offer,
    detect_changes,
    family_changes,
    invert_changes,
    offers,
    restore_changes,
)

STEP_TROUBLESHOOT: Final = "troubleshoot"
STEP_STILL_NOT_TALKING: Final = "still_not_talking"
"""The same offers after a step that did not bring the meter back."""
STEP_ENTER_KEY: Final = str(Offer.ENTER_KEY)
STEP_SERIAL: Final = str(Offer.SERIAL)
ABORT_LINK_WORKING: Final = "link_working"
ABORT_GAVE_UP: Final = "gave_up"
CHECK_STEP: Final = "check_step"
"""The progress text while the link is checked after a step of the assistant."""
FAMILY: Final = "family"
STEP_TEXTS: Final = "selector.troubleshoot_step.options"
"""What each step does, by its menu option: the first dialog explains the steps offered."""


@callback
def steps_text(hass: HomeAssistant, steps: Sequence[Offer]) -> str:
    """Explain ``steps`` in their order, a bullet each; *Nothing worked* after them, apart.

    Only the steps offered: the dialog says nothing of a step that is not there.
    """
    lines = [
        f"- {text(hass, f'{STEP_TEXTS}.{step}', str(step))}"
        for step in steps
        if step is not Offer.GIVE_UP
    ]
    paragraphs = ["\n".join(lines)] if lines else []
    if Offer.GIVE_UP in steps:
        paragraphs.append(text(hass, f"{STEP_TEXTS}.{Offer.GIVE_UP}", str(Offer.GIVE_UP)))
    return "\n\n".join(paragraphs)


class TroubleshootSteps[ContextT: FlowContext, ResultT: FlowResult[Any, str]](
    MeterSettingsSteps[ContextT, ResultT]
):
    """Get a meter that does not talk to the gateway talking, one step at a time."""

    def __init__(self) -> None:
        """Nothing read yet; the assistant has not started."""
        super().__init__()
        self._original: MeterSettings | None = None
        """The settings when the assistant started (``give_up`` puts them back)."""
        self._status: str | None = None
        """The meter status as the device spelled it, last read or checked."""

    async def async_step_troubleshoot(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Read the status and the settings now, and offer the step that fits."""
        entry = self._entry()
        runtime = entry.runtime_data
        try:
            with translated_errors(self.hass, entry):
                self._current = await runtime.meter_settings.async_read()
        except HomeAssistantError as err:
            return await self._abort_with(err)
        await runtime.system.async_refresh()  # the user asked: read now, not debounced
        self._status = runtime.system.meter_status
        self._original = self._current  # the first step of the assistant: nothing changed yet
        return await self._show_offers(STEP_TROUBLESHOOT)

    async def async_step_still_not_talking(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """The last step did not bring the meter back: what the gateway reports, what next."""
        return await self._show_offers(STEP_STILL_NOT_TALKING)

    async def async_step_link_working(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """The meter talks to the gateway: live data arrives (the repair issue withdraws)."""
        return self.async_abort(
            reason=ABORT_LINK_WORKING, description_placeholders=await self._status_placeholders()
        )

    async def async_step_detect(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Interface type, protocol and interface mode back to auto, automatic baud rate on."""
        return await self._async_step(detect_changes(self._current))

    async def async_step_invert_rx(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """The receive line the other way round."""
        return await self._async_step(invert_changes(self._current))

    async def async_step_enter_key(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """The meter's key (and authentication key when it uses one); DLMS encryption on."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            keys = {  # an empty field: no key entered (the schema ignores spaces in a key)
                field: value
                for field, value in user_input.items()
                if field in SECRET_KEYS and str(value).strip()
            }
            try:
                changes = validate_settings(keys)
            except WhatwattValidationError as err:
                errors[err.field] = err.reason
                await async_load_texts(self.hass)
                placeholders = {"field": setting_label(self.hass, err.field)}
            else:
                if not keys:
                    return self._show_key_form({"base": "key_missing"}, {})
                if self._current.encryption is False:
                    changes["encryption"] = True
                return await self._async_step(changes, form=STEP_ENTER_KEY)
        return self._show_key_form(errors, placeholders)

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """The serial parameters of a usual meter family, chosen by its name."""
        errors: dict[str, str] = {}
        if user_input is not None:  # the schema has made sure it is one of the families
            if changes := family_changes(self._current, user_input[FAMILY]):
                return await self._async_step(changes, form=STEP_SERIAL)
            errors[FAMILY] = "family_in_use"
        return self._show_serial_form(errors, user_input)

    async def async_step_give_up(self, user_input: dict[str, Any] | None = None) -> ResultT:
        """Put back the settings from before the assistant (one PUT); say what is reported."""
        entry = self._entry()
        runtime = entry.runtime_data
        original = self._original or self._current
        changes = restore_changes(self._current, original)
        if changes and (err := await self._async_write(changes, restore=True)) is not None:
            return await self._abort_with(err)
        await runtime.system.async_refresh()  # what the gateway reports now, not 5 s ago
        self._status = runtime.system.meter_status
        return self.async_abort(
            reason=ABORT_GAVE_UP,
            description_placeholders={
                **await self._status_placeholders(),
                "url": gateway_url(entry),
            },
        )

    # --- helpers ----------------------------------------------------------------------------

    def _check_action(self) -> str:
        """In the assistant: does the meter talk now (not: does it still talk)."""
        return super()._check_action() if self._original is None else CHECK_STEP

    def _after_check(self, check: LinkCheck) -> str:
        """In the assistant: the meter talks, or the next offers; elsewhere as always."""
        if self._original is None:
            return super()._after_check(check)
        if check.interrupted:
            return STEP_CHECK_INTERRUPTED
        self._status = check.meter_status
        # Every step changes a link setting, so it is checked: OK, lost or unreachable.
        return ABORT_LINK_WORKING if check.link is Link.OK else STEP_STILL_NOT_TALKING

    async def _async_step(self, changes: Mapping[str, Any], *, form: str | None = None) -> ResultT:
        """One PUT of ``changes`` and the link check; a failure ends the flow or shows the form."""
        if (err := await self._async_write(changes)) is None:
            return await self.async_step_check_link()
        if form is None:
            return await self._abort_with(err)
        errors, placeholders = await self._base_error(err)
        if form == STEP_SERIAL:
            return self._show_serial_form(errors, None, placeholders)
        return self._show_key_form(errors, placeholders)

    async def _status_placeholders(self) -> dict[str, str]:
        """The gateway's name, the meter status in words and what it means, the settings."""
        await async_load_texts(self.hass)
        option = METER_STATUS.get(self._status or "", "unknown")
        return {
            "name": self._entry().title,
            "status": meter_status_label(self.hass, self._status),
            "meaning": text(self.hass, f"selector.meter_status_meaning.options.{option}", ""),
            "settings": settings_text(self.hass, self._current, SHOWN),
        }

    async def _show_offers(self, step_id: str) -> ResultT:
        """The status, the settings in use, the steps that fit and what each does (OK: none)."""
        steps = offers(self._status, self._current)
        if not steps:
            return await self.async_step_link_working()
        placeholders = await self._status_placeholders()  # loads the texts
        return self.async_show_menu(
            step_id=step_id,
            menu_options=[str(step) for step in steps],
            description_placeholders={**placeholders, "steps": steps_text(self.hass, steps)},
        )

    def _show_key_form(self, errors: dict[str, str], placeholders: dict[str, str]) -> ResultT:
        """The key fields, empty (a key is never put back into a form)."""
        system = self._entry().runtime_data.system.data
        fields: dict[probatio.Marker, Any] = {
            probatio.Optional(key): setting_selector(SPECS[key])
            for key in SECRET_KEYS
            if key == "encryption_key" or (system is not None and system.meter.auth_en)
        }
        return self.async_show_form(
            step_id=STEP_ENTER_KEY,
            data_schema=probatio.Schema(fields),
            errors=errors,
            description_placeholders={
                "name": self._entry().title,
                "field": "",
                "error": "",
                **placeholders,
            },
        )

    def _show_serial_form(
        self,
        errors: dict[str, str],
        user_input: Mapping[str, Any] | None,
        placeholders: dict[str, str] | None = None,
    ) -> ResultT:
        """The meter families by name (the form's texts spell out their parameters)."""
        schema = probatio.Schema(
            {
                probatio.Required(FAMILY): SelectSelector(
                    SelectSelectorConfig(
                        options=list(SERIAL_FAMILIES),
                        translation_key="serial_family",
                        mode=SelectSelectorMode.LIST,
                    )
                )
            }
        )
        return self.async_show_form(
            step_id=STEP_SERIAL,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders={"error": "", "field": "", **(placeholders or {})},
        )
