"""Options flow step "Custom scalers": show the scalers in use, edit the custom list.

The device is the store, as for the meter settings.  The step reads fresh what the gateway has:
the scaler set in use (``scalers_set`` of the meter settings), the scalers it applies now
(``/api/v1/meter/scalers/current``) and the custom list (``/custom``).  On submit the whole
list goes to the device in one POST and is checked read back; nothing is stored in the config
entry.  An unchanged list (in any order) is not sent.

The list is edited with an object selector (``multiple``: one row per scaler, each added,
changed or removed by itself) made from the scaler ``FIELDS`` (``scalers_selector_config``).
It shows the ranges but does not enforce them: ``scalers.validate`` does, so that a bad row is
a translated form error naming the row and the reason, with nothing sent.  After any failure
the form keeps what the user entered.

The custom list applies only while ``scalers_set`` is ``custom``.  Otherwise the step says
which set is in use and offers a toggle to switch to the custom one.  The switch is a
meter-settings change: after the list is saved it goes through the options flow's own apply
path, ``_async_apply({"scalers_set": "custom"})``, like any change made in *Edit settings*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from homeassistant.config_entries import ConfigFlowContext, ConfigFlowResult
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.selector import (
    BooleanSelector,
    ObjectSelector,
    ObjectSelectorConfig,
    ObjectSelectorField,
)
import probatio

from .client import Scaler
from .client.exceptions import WhatwattScalersNotApplied, WhatwattValidationError
from .client.scalers import (
    FIELDS as SCALER_FIELDS,
    LIST_FIELD,
    Reason,
    ScalerField,
    same_scalers,
    validate as validate_scalers,
)
from .errors import translated_errors
from .settings_flow import MeterSettingsSteps, ShownNotEnforced
from .texts import async_load_texts, text

STEP_SCALERS: Final = "scalers"
SWITCH: Final = "switch_to_custom"
"""The toggle shown while another scaler set is in use: switch ``scalers_set`` to custom."""
CUSTOM: Final = "custom"
SCALERS_SET: Final = "scalers_set"
NONE: Final = "-"
"""Shown for a value the gateway does not report, or an empty list."""


class _ScalerList(ShownNotEnforced, ObjectSelector):
    """The list editor: describes the rows to the UI; ``scalers.validate`` checks them."""


def _scaler_field(spec: ScalerField) -> ObjectSelectorField:
    """A number box for a numeric field of a scaler row (with its range), else a text box."""
    if spec.minimum is None:
        return ObjectSelectorField(required=True, selector={"text": {}})
    number = {"min": spec.minimum, "max": spec.maximum, "step": 1, "mode": "box"}
    return ObjectSelectorField(required=True, selector={"number": number})


def scalers_selector_config() -> ObjectSelectorConfig:
    """Return the list editor of custom scalers: one row per scaler, added, changed, removed.

    Each row is shown by its OBIS code, with its scaler below; the field names are translated
    by ``selector.scalers.fields``.  The selectors show ranges; ``scalers.validate`` enforces
    them, so that a bad row is a translated error naming it.
    """
    return ObjectSelectorConfig(
        multiple=True,
        label_field=SCALER_FIELDS[0].key,
        description_field=SCALER_FIELDS[1].key,
        translation_key=LIST_FIELD,
        fields={spec.key: _scaler_field(spec) for spec in SCALER_FIELDS},
    )


class WhatwattScalersSteps(MeterSettingsSteps[ConfigFlowContext, ConfigFlowResult]):
    """The custom scaler step of the options flow.

    Switching to the custom set is a meter-settings change like any other (``_async_apply``).
    """

    _scalers_set: str | None = None
    """The scaler set the gateway reported when the step opened."""
    _scalers_current: tuple[Scaler, ...] = ()
    _scalers_custom: tuple[Scaler, ...] = ()
    """The custom list on the device (as read when the step opened, or after a write)."""

    async def async_step_scalers(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the scalers in use and the custom list; save the list, switch the set."""
        entry = self._entry()
        await async_load_texts(self.hass)
        client = entry.runtime_data.client
        if user_input is None:
            try:
                with translated_errors(self.hass, entry):
                    settings = await entry.runtime_data.meter_settings.async_read()
                    current = await client.current_scalers()
                    custom = await client.custom_scalers()
            except HomeAssistantError as err:
                return await self._abort_with(err)
            self._scalers_set = settings.scalers_set
            self._scalers_current, self._scalers_custom = tuple(current), tuple(custom)
            return self._show_scalers({LIST_FIELD: [row.as_dict() for row in custom]})

        rows = user_input.get(LIST_FIELD)
        try:
            scalers = validate_scalers([] if rows is None else rows)
        except WhatwattValidationError as err:
            placeholders = self._row_placeholders(err)
            return self._show_scalers(
                user_input, {LIST_FIELD: f"{LIST_FIELD}_{err.reason}"}, placeholders
            )
        if not same_scalers(scalers, self._scalers_custom):
            try:
                with translated_errors(self.hass, entry):
                    self._scalers_custom = tuple(await client.set_custom_scalers(scalers))
            except HomeAssistantError as err:
                if isinstance(err.__cause__, WhatwattScalersNotApplied):
                    self._scalers_custom = tuple(err.__cause__.scalers)
                placeholders = dict(err.translation_placeholders or {})
                if "field" in placeholders:
                    placeholders["field"] = text(
                        self.hass, f"options.step.{STEP_SCALERS}.data.{LIST_FIELD}", LIST_FIELD
                    )
                return self._show_scalers(
                    user_input, {"base": str(err.translation_key)}, placeholders
                )
        if user_input.get(SWITCH) is True and self._scalers_set != CUSTOM:
            # If the switch fails, the edit form shows the error, filled in with the change.
            settings = entry.runtime_data.meter_settings.data
            self._input = {**settings.as_dict(), SCALERS_SET: CUSTOM}
            return await self._async_apply({SCALERS_SET: CUSTOM})
        return self._finish()

    def _show_scalers(
        self,
        suggested: Mapping[str, Any],
        errors: dict[str, str] | None = None,
        placeholders: Mapping[str, str] | None = None,
    ) -> ConfigFlowResult:
        """Show the step: the set and the scalers in use, the list, the switch if needed."""
        fields: dict[probatio.Marker, Any] = {
            probatio.Optional(LIST_FIELD): _ScalerList(scalers_selector_config())
        }
        if self._scalers_set != CUSTOM:
            fields[probatio.Optional(SWITCH, default=False)] = BooleanSelector()
        scalers_set = NONE
        if self._scalers_set is not None:
            scalers_set = text(
                self.hass, f"selector.{SCALERS_SET}.options.{self._scalers_set}", self._scalers_set
            )
        return self.async_show_form(
            step_id=STEP_SCALERS,
            data_schema=self.add_suggested_values_to_schema(probatio.Schema(fields), suggested),
            errors=errors,
            description_placeholders={
                SCALERS_SET: scalers_set,
                "current": _listed(self._scalers_current),
                **(placeholders or {}),
            },
        )

    def _row_placeholders(self, err: WhatwattValidationError) -> dict[str, str]:
        """Say which row (counted from 1) and which of its fields an error is about.

        ``scalers.2.obis`` is row 3, field "OBIS code" (its label in the server's language);
        a duplicate names the earlier row too.
        """
        parts = err.field.split(".")
        key = parts[2] if len(parts) > 2 else ""
        duplicate = err.reason == Reason.DUPLICATE_OBIS
        return {
            "row": _row_number(err.field),
            "field": text(self.hass, f"selector.{LIST_FIELD}.fields.{key}.name", key),
            "allowed": err.allowed,
            "other_row": _row_number(err.allowed) if duplicate else "",
        }


def _row_number(path: str) -> str:
    """The row a path names, counted from 1 (``scalers.2.obis``: ``3``); empty for the list."""
    parts = path.split(".")
    return str(int(parts[1]) + 1) if len(parts) > 1 else ""


def _listed(scalers: Sequence[Scaler]) -> str:
    """The scalers in use as a short line: ``1.8.0: 0, 31.7.0: -2`` (``-`` for none)."""
    return ", ".join(f"{row.obis}: {row.scaler}" for row in scalers) or NONE
