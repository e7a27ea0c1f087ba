"""pytest fixtures ``emulator`` and ``emulator_factory``.

Register with ``pytest_plugins = ["whatwatt_emulator.pytest_plugin"]``.

Both start real emulators on 127.0.0.1 with a free port and stop them at teardown.  Under
pytest-socket (pytest-homeassistant-custom-component) they enable sockets for the test;
connections stay limited to loopback by the socket plugin's allow-list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
import contextlib
from typing import Any, Protocol

import pytest
import pytest_asyncio

from .config import EmulatorConfig
from .emulator import Emulator

FIXTURE_DEFAULTS: dict[str, Any] = {"report_interval": 0.05, "recognition_time": 0.0}
"""Defaults of the fixtures: fast meter reports, and a meter-settings change acts at once (no
RECOGNITION phase; pass ``recognition_time=`` to a test's emulator to have one)."""


class EmulatorFactory(Protocol):
    """``await emulator_factory(password="pw", licence="PLUS")`` returns a started Emulator."""

    def __call__(
        self, config: EmulatorConfig | None = None, /, *, host: str = ..., **options: Any
    ) -> Awaitable[Emulator]:
        """Start an emulator from a config or from EmulatorConfig keyword arguments."""


def _allow_sockets(request: pytest.FixtureRequest) -> None:
    with contextlib.suppress(pytest.FixtureLookupError):  # without pytest-socket: nothing to do
        request.getfixturevalue("socket_enabled")


@pytest_asyncio.fixture
async def emulator_factory(request: pytest.FixtureRequest) -> AsyncIterator[EmulatorFactory]:
    """Return a factory of started emulators; all of them are stopped at teardown."""
    _allow_sockets(request)
    started: list[Emulator] = []

    async def factory(
        config: EmulatorConfig | None = None, /, *, host: str = "127.0.0.1", **options: Any
    ) -> Emulator:
        if config is None:
            config = EmulatorConfig(**{**FIXTURE_DEFAULTS, **options})
        elif options:
            raise TypeError("pass either an EmulatorConfig or keyword options, not both")
        emu = Emulator(config)
        await emu.start(host=host, port=0)
        started.append(emu)
        return emu

    yield factory
    for emu in reversed(started):
        await emu.stop()


@pytest_asyncio.fixture
async def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    """Return a started emulator: no password, FREE licence, dsmr meter, reports every 0.05 s."""
    return await emulator_factory()
