"""Shared fixtures."""

from __future__ import annotations

import pytest

# Import our package before Home Assistant mounts phcc's own `custom_components`, which would
# otherwise shadow ours ("Integration 'whatwatt' not found").
import custom_components.whatwatt  # noqa: F401

pytest_plugins = ["whatwatt_emulator.pytest_plugin"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom integrations in every test."""
