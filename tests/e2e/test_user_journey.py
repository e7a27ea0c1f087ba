"""A user's whole journey with a whatwatt Go, in a real Home Assistant and a real browser.

Each step saves screenshots to artifacts/e2e/ and records itself as done; a step that builds on
an earlier one which did not pass is skipped with that reason (the failing step is the one to
look at).
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="e2e needs Playwright (scripts/setup-e2e)")

from scripts.devtools import haapi

from .conftest import World

pytestmark = pytest.mark.e2e


def test_step1_user_logs_in_to_onboarded_home_assistant(step: World) -> None:
    """Step 1: the owner (created over the onboarding API) logs in through the login page."""
    page, base = step.page, step.hass.url
    page.goto(base + "/", wait_until="load")
    page.wait_for_url(re.compile(r"/auth/authorize"))
    page.locator('input[name="username"]').fill(haapi.DEV_USER)
    page.locator('input[name="password"]').fill(haapi.DEV_PASSWORD)
    step.screens.shot("step1-login")
    page.locator('input[name="password"]').press("Enter")
    page.wait_for_url(lambda url: "/auth/authorize" not in url, timeout=30_000)
    # the sidebar shows once the frontend has connected its websocket and loaded the user
    page.locator("ha-sidebar").wait_for(state="visible", timeout=30_000)
    page.get_by_text("Overview").first.wait_for(state="visible")
    step.screens.shot("step1-logged-in")
