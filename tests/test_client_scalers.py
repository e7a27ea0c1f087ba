"""The client reads and writes the meter scalers of the emulated device, over loopback.

What the device received comes from the emulator's request log: a list the client refuses is
never sent.
"""

from __future__ import annotations

import math
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.whatwatt.client import (
    Scaler,
    WhatwattResponseError,
    WhatwattScalersNotApplied,
    WhatwattValidationError,
)
from custom_components.whatwatt.client.scalers import (
    EXAMPLE,
    FIELDS,
    Reason,
    same_scalers,
    validate,
)
from custom_components.whatwatt.errors import error_translation
from whatwatt_emulator import Emulator, routes
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .client_common import SCALERS_CUSTOM as CUSTOM, client_for, scaler_posts

# --- reading ---------------------------------------------------------------------------------


async def test_current_scalers_of_a_dlms_meter_and_none_of_a_dsmr_meter(
    emulator_factory: EmulatorFactory, session: aiohttp.ClientSession
) -> None:
    """A DLMS meter reports the scalers in use, in the device's order; a DSMR meter none."""
    dlms = await emulator_factory(meter="dlms")
    scalers = await client_for(dlms, session).current_scalers()
    assert scalers[0] == Scaler(obis="1.8.0", scaler=0)
    assert Scaler(obis="31.7.0", scaler=-2) in scalers
    assert [(r.method, r.path) for r in dlms.log] == [("GET", "/api/v1/meter/scalers/current")]
    dsmr = await emulator_factory(meter="dsmr")
    assert await client_for(dsmr, session).current_scalers() == []


async def test_current_scalers_follow_the_custom_list_while_it_is_in_use(
    emulator_factory: EmulatorFactory, session: aiohttp.ClientSession
) -> None:
    """With scalers_set custom, an exact code and a wildcard override the meter's scalers."""
    emu = await emulator_factory(meter="dlms")
    client = client_for(emu, session)
    await client.set_custom_scalers([{"obis": "1.8.255", "scaler": 3}])
    await client.update_meter_settings(scalers_set="custom")
    current = {scaler.obis: scaler.scaler for scaler in await client.current_scalers()}
    assert current["1.8.0"] == 3
    assert current["2.8.0"] == 0


async def test_custom_scalers_start_empty(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """A new device has no custom scalers."""
    assert await client_for(emulator, session).custom_scalers() == []


async def test_a_scaler_list_that_is_not_an_array_is_a_response_error(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """An object where the list belongs is not silently taken as "no scalers"."""
    emulator.custom_scalers = {"obis": "1.8.0", "scaler": 3}  # type: ignore[assignment]
    with pytest.raises(WhatwattResponseError, match="dict instead of an array"):
        await client_for(emulator, session).custom_scalers()


async def test_an_answer_without_a_body_is_an_empty_list(
    emulator: Emulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a device sends while no custom scaler is set is not documented (C29): no body at
    all counts as none."""
    monkeypatch.setattr(routes, "json_response", lambda *args, **kwargs: web.Response())
    assert await client_for(emulator, session).custom_scalers() == []


# --- writing ---------------------------------------------------------------------------------


async def test_set_custom_scalers_posts_the_whole_list_once_and_reads_it_back(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """One POST of the whole list (the vendor's example), then one GET: the list read back."""
    wanted = [Scaler(obis="1.7.0", scaler=-2), Scaler(obis="1.8.255", scaler=3)]
    assert await client_for(emulator, session).set_custom_scalers(wanted) == wanted
    assert [(r.method, r.path) for r in emulator.log] == [("POST", CUSTOM), ("GET", CUSTOM)]
    assert scaler_posts(emulator) == [[scaler.as_dict() for scaler in wanted]]
    assert emulator.custom_scalers == scaler_posts(emulator)[0]


async def test_set_custom_scalers_takes_rows_as_mappings_and_whole_floats(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """What an action or a form gives (mappings, 3.0 from a number box) goes out as integers."""
    read_back = await client_for(emulator, session).set_custom_scalers(
        [{"obis": "2.8.0", "scaler": 3.0}, Scaler(obis="1.8.0", scaler=-1)]
    )
    assert scaler_posts(emulator) == [
        [{"obis": "2.8.0", "scaler": 3}, {"obis": "1.8.0", "scaler": -1}]
    ]
    assert read_back == [Scaler(obis="2.8.0", scaler=3), Scaler(obis="1.8.0", scaler=-1)]


async def test_obis_codes_are_sent_in_canonical_form(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """Leading zeros and spaces around the code are dropped before sending: 01.8.0 is 1.8.0."""
    await client_for(emulator, session).set_custom_scalers(
        [{"obis": "01.8.0", "scaler": 0}, {"obis": " 001.008.255 ", "scaler": 3}]
    )
    assert scaler_posts(emulator) == [
        [{"obis": "1.8.0", "scaler": 0}, {"obis": "1.8.255", "scaler": 3}]
    ]


async def test_the_ranges_end_where_the_device_says(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """C and D up to 254, E up to 255 (the wildcard), scalers -6 and 6: all accepted."""
    edges = [Scaler(obis="254.254.255", scaler=-6), Scaler(obis="0.0.0", scaler=6)]
    assert await client_for(emulator, session).set_custom_scalers(edges) == edges


async def test_an_empty_list_clears_the_custom_scalers(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """POST [] removes every custom scaler."""
    emulator.custom_scalers = [{"obis": "1.8.0", "scaler": 3}]
    assert await client_for(emulator, session).set_custom_scalers([]) == []
    assert scaler_posts(emulator) == [[]]
    assert emulator.custom_scalers == []


async def test_the_client_sets_no_maximum_count_the_device_refuses_what_it_refuses(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """The vendor documents no maximum, so the client sends a long list; the emulator's own
    limit (64) answers 400, which is the device's refusal with its words."""
    rows = [{"obis": f"1.8.{e}", "scaler": 0} for e in range(65)]
    with pytest.raises(WhatwattResponseError) as err:
        await client_for(emulator, session).set_custom_scalers(rows)
    assert err.value.status == 400
    assert err.value.error == "too_many"
    assert len(scaler_posts(emulator)[0]) == 65


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(lambda rows: rows[:-1], id="row-dropped"),
        pytest.param(lambda rows: [{**rows[0], "scaler": 0}, *rows[1:]], id="value-changed"),
        pytest.param(lambda rows: [{**rows[0], "obis": "x"}, *rows[1:]], id="code-garbled"),
    ],
)
async def test_a_list_read_back_different_is_not_applied(
    emulator: Emulator,
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    stored: Any,
) -> None:
    """200, but another list read back: an error carrying what the device has, not success."""
    validate_custom = routes.scalers.validate_custom
    monkeypatch.setattr(
        routes.scalers, "validate_custom", lambda body: stored(validate_custom(body))
    )
    wanted = [Scaler(obis="1.7.0", scaler=-2), Scaler(obis="1.8.255", scaler=3)]
    with pytest.raises(WhatwattScalersNotApplied) as err:
        await client_for(emulator, session).set_custom_scalers(wanted)
    assert err.value.field == "scalers"
    assert err.value.scalers == Scaler.list_from(emulator.custom_scalers)
    assert error_translation(err.value, "whatwatt Go") == (
        "setting_not_applied",
        {"name": "whatwatt Go", "field": "scalers"},
    )


async def test_a_list_read_back_in_another_order_is_applied(
    emulator: Emulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The device may keep the rows in its own order: the same rows count as applied."""
    validate_custom = routes.scalers.validate_custom
    monkeypatch.setattr(routes.scalers, "validate_custom", lambda body: validate_custom(body)[::-1])
    wanted = [Scaler(obis="1.7.0", scaler=-2), Scaler(obis="1.8.255", scaler=3)]
    assert await client_for(emulator, session).set_custom_scalers(wanted) == wanted[::-1]


# --- validation: one test per rule, nothing sent ----------------------------------------------

ROW = {"obis": "1.8.0", "scaler": 3}
INVALID = [
    pytest.param(None, "scalers", Reason.MISSING_FIELD, id="list-missing"),
    pytest.param("1.8.0", "scalers", Reason.NOT_A_LIST, id="list-is-text"),
    pytest.param(ROW, "scalers", Reason.NOT_A_LIST, id="list-is-one-object"),
    pytest.param(5, "scalers", Reason.NOT_A_LIST, id="list-is-a-number"),
    pytest.param([ROW, 5], "scalers.1", Reason.INVALID_ENTRY, id="row-not-an-object"),
    pytest.param([{"scaler": 3}], "scalers.0.obis", Reason.MISSING_FIELD, id="obis-missing"),
    pytest.param([{**ROW, "obis": ""}], "scalers.0.obis", Reason.MISSING_FIELD, id="obis-empty"),
    pytest.param([{**ROW, "obis": None}], "scalers.0.obis", Reason.MISSING_FIELD, id="obis-none"),
    pytest.param(
        [{"obis": "1.8.0"}], "scalers.0.scaler", Reason.MISSING_FIELD, id="scaler-missing"
    ),
    pytest.param(
        [{**ROW, "scaler": None}], "scalers.0.scaler", Reason.MISSING_FIELD, id="scaler-none"
    ),
    pytest.param([{**ROW, "unit": "W"}], "scalers.0.unit", Reason.EXTRA_FIELD, id="extra-field"),
    pytest.param(
        [{**ROW, "obis": "1.8"}], "scalers.0.obis", Reason.INVALID_OBIS, id="obis-2-parts"
    ),
    pytest.param(
        [{**ROW, "obis": "1.8.0.0"}], "scalers.0.obis", Reason.INVALID_OBIS, id="obis-4-parts"
    ),
    pytest.param(
        [{**ROW, "obis": "1-0:1.8.0"}], "scalers.0.obis", Reason.INVALID_OBIS, id="obis-full-form"
    ),
    pytest.param(
        [{**ROW, "obis": "1.8.x"}], "scalers.0.obis", Reason.INVALID_OBIS, id="obis-letter"
    ),
    pytest.param(
        [{**ROW, "obis": "1.8.0255"}], "scalers.0.obis", Reason.INVALID_OBIS, id="obis-4-digits"
    ),
    pytest.param(
        [{**ROW, "obis": "\u0661.\u0668.\u0660"}],
        "scalers.0.obis",
        Reason.INVALID_OBIS,
        id="obis-non-ascii",
    ),
    pytest.param([{**ROW, "obis": 180}], "scalers.0.obis", Reason.INVALID_OBIS, id="obis-number"),
    pytest.param(
        [{**ROW, "obis": "255.8.0"}], "scalers.0.obis", Reason.OUT_OF_RANGE, id="obis-c-255"
    ),
    pytest.param(
        [{**ROW, "obis": "1.255.0"}], "scalers.0.obis", Reason.OUT_OF_RANGE, id="obis-d-255"
    ),
    pytest.param(
        [{**ROW, "obis": "1.8.256"}], "scalers.0.obis", Reason.OUT_OF_RANGE, id="obis-e-256"
    ),
    pytest.param([{**ROW, "scaler": 7}], "scalers.0.scaler", Reason.OUT_OF_RANGE, id="scaler-7"),
    pytest.param([{**ROW, "scaler": -7}], "scalers.0.scaler", Reason.OUT_OF_RANGE, id="scaler--7"),
    pytest.param(
        [{**ROW, "scaler": 1.5}], "scalers.0.scaler", Reason.INVALID_TYPE, id="scaler-fraction"
    ),
    pytest.param(
        [{**ROW, "scaler": math.inf}], "scalers.0.scaler", Reason.INVALID_TYPE, id="scaler-inf"
    ),
    pytest.param(
        [{**ROW, "scaler": True}], "scalers.0.scaler", Reason.INVALID_TYPE, id="scaler-boolean"
    ),
    pytest.param(
        [{**ROW, "scaler": "3"}], "scalers.0.scaler", Reason.INVALID_TYPE, id="scaler-text"
    ),
    pytest.param(
        [ROW, {**ROW, "obis": "01.8.0"}],
        "scalers.1.obis",
        Reason.DUPLICATE_OBIS,
        id="duplicate-in-canonical-form",
    ),
    pytest.param(
        [Scaler(obis="1.8", scaler=0)], "scalers.0.obis", Reason.INVALID_OBIS, id="model-row"
    ),
]


@pytest.mark.parametrize(("rows", "field", "reason"), INVALID)
async def test_an_invalid_list_is_refused_naming_the_row_and_nothing_is_sent(
    emulator: Emulator, session: aiohttp.ClientSession, rows: Any, field: str, reason: Reason
) -> None:
    """Each rule: a validation error with the row's path and a stable reason, no request."""
    with pytest.raises(WhatwattValidationError) as err:
        await client_for(emulator, session).set_custom_scalers(rows)
    assert (err.value.field, err.value.reason) == (field, reason)
    assert err.value.allowed
    assert emulator.log == []


def test_a_duplicate_names_the_earlier_row() -> None:
    """The message can say which row holds the code already."""
    with pytest.raises(WhatwattValidationError) as err:
        validate([{"obis": "2.8.0", "scaler": 0}, ROW, {"obis": "1.8.000", "scaler": 1}])
    assert err.value.allowed == "scalers.1.obis"


@pytest.mark.parametrize(
    ("rows", "field", "reason"),
    [
        pytest.param([ROW, {"obis": "x", "scaler": 9}, {"obis": "y"}], "scalers.1.obis",
                     Reason.INVALID_OBIS, id="first-bad-row-then-obis-before-scaler"),
        pytest.param([{"unit": "W"}], "scalers.0.obis", Reason.MISSING_FIELD,
                     id="missing-field-before-extra-field"),
        pytest.param([{"scaler": 1.5, "unit": "W", "obis": "1.8.0"}], "scalers.0.scaler",
                     Reason.INVALID_TYPE, id="field-order-not-given-order"),
    ],
)  # fmt: skip
def test_the_first_problem_is_named(rows: Any, field: str, reason: Reason) -> None:
    """Rows in list order, then a row's fields in API order, then its extra fields."""
    with pytest.raises(WhatwattValidationError) as err:
        validate(rows)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_validate_takes_any_iterable_and_keeps_the_order() -> None:
    """A tuple or a generator of rows is a list too; the order given is the order sent."""
    rows = ({"obis": obis, "scaler": 0} for obis in ("2.8.0", "1.8.0"))
    assert [scaler.obis for scaler in validate(rows)] == ["2.8.0", "1.8.0"]


def test_same_scalers_ignores_order_and_spelling() -> None:
    """Compared as rows, in canonical form; a code with no canonical form is itself."""
    one = [Scaler(obis="1.8.0", scaler=0), Scaler(obis="x", scaler=1)]
    assert same_scalers(one, [Scaler(obis="x", scaler=1), Scaler(obis="01.8.0", scaler=0)])
    assert not same_scalers(one, one[:1])
    assert not same_scalers(one, [Scaler(obis="1.8.0", scaler=1), Scaler(obis="x", scaler=1)])


def test_the_example_is_a_valid_list_and_every_field_describes_itself() -> None:
    """services.yaml's example passes the rules; each field says what it accepts."""
    assert [scaler.as_dict() for scaler in validate(EXAMPLE)] == EXAMPLE
    assert [spec.key for spec in FIELDS] == ["obis", "scaler"]
    assert all(spec.allowed for spec in FIELDS)
