"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from unittest.mock import PropertyMock, patch

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from hypothesis import HealthCheck, settings
import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Import our package before Home Assistant mounts phcc's own `custom_components`, which would
# otherwise shadow ours ("Integration 'whatwatt' not found").
import custom_components.whatwatt  # noqa: F401

pytest_plugins = ["whatwatt_emulator.pytest_plugin"]

# CI runs on whatever machine is free, sometimes a busy one: Hypothesis must judge the
# examples, not how fast the machine drew them.
settings.register_profile("whatwatt", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("whatwatt")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom integrations in every test."""


@pytest.fixture
def freezer(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """pytest-freezer's frozen clock, started on a whole second.

    Its default start is the real "now", at a random fraction of a second.  Home Assistant
    schedules a coordinator's next poll at ``int(now) + 0.05..0.5 s + interval``, and
    ``async_fire_time_changed`` fires what is due up to 0.5 s ahead: from a random fraction a
    poll due in a minute fell due after 59 one-second steps in about one run in five.  From a
    whole second it falls due at exactly the step the interval says.  A ``freeze_time`` marker's
    own start is kept when it is a whole second already.
    """
    freezer.move_to(freezer.time_to_freeze.replace(microsecond=0))
    return freezer


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialise snapshots the way Home Assistant does (registry entries, states, flows)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled, also those disabled by default (phcc no longer has it)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session for client tests (the integration injects its own)."""
    async with aiohttp.ClientSession() as session:
        yield session
