"""Fixtures of the benchmark: a Home Assistant as users run it (no asyncio debug mode)."""

from __future__ import annotations

import logging
from pathlib import Path
import platform
import sys

import pytest

# Import our package before Home Assistant mounts phcc's own `custom_components`.
import custom_components.whatwatt  # noqa: F401

from .results import table

pytest_plugins = ["whatwatt_emulator.pytest_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    """Log as a real Home Assistant does (root at WARNING, no SQL echo).

    phcc sets the root logger to INFO and ``sqlalchemy.engine`` to INFO (every statement
    logged), and pytest would keep every record in memory: both would inflate CPU and memory.
    """
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom integrations."""


@pytest.fixture(autouse=True)
async def enable_event_loop_debug() -> None:
    """Override phcc's fixture: asyncio debug mode would slow everything down several times."""


@pytest.fixture
def recorder_db_url(tmp_path: Path) -> str:
    """The recorder writes to an sqlite file, as in a real installation."""
    return f"sqlite:///{tmp_path / 'home-assistant_v2.db'}"


def machine() -> str:
    """Describe where the figures come from."""
    from homeassistant.const import __version__ as ha_version  # noqa: PLC0415

    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import os  # noqa: PLC0415

    return (
        f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; "
        f"Home Assistant {ha_version}; {platform.system()} {platform.release()}"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the table at the end of the run."""
    terminalreporter.write_sep("=", "whatwatt benchmark")
    terminalreporter.write_line(machine())
    terminalreporter.write_line(table())
    sys.stdout.flush()
