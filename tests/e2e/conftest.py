"""Fixtures of the end-to-end suite: one real Home Assistant for the whole session.

Layout: network namespace `wwe2e-ha` (Home Assistant, this test process's sockets, Chromium) and
`wwe2e-dev` (the emulator, announcing itself over mDNS), joined by a veth pair.  Nothing
multicasts on a real network card.  Steps run in file order and build on each other.

The Home Assistant under test is the one in .venv-e2e (scripts/setup-e2e: the newest release, or
WW_E2E_HA); this test process, Playwright and the emulator run in .venv.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
import os
from pathlib import Path
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

import pytest

from scripts.devtools.hass import E2E_VENV, ha_version

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from scripts.devtools.haapi import Session
    from scripts.devtools.hass import Hass

    from .harness import EmulatorProcess, Screens

CHROMIUM = "/usr/bin/chromium"
HA_VERSION = ha_version(E2E_VENV)  # the Home Assistant under test (None: not installed)


def why_not() -> str | None:
    """Return why the e2e suite cannot run here, or None."""
    if os.geteuid() != 0:
        return "e2e needs root (it creates network namespaces)"
    if not Path(CHROMIUM).exists():
        return f"e2e needs Debian's Chromium at {CHROMIUM} (run scripts/setup-e2e)"
    try:
        import playwright.sync_api  # noqa: F401, PLC0415
    except ImportError:
        return "e2e needs Playwright for Python (run scripts/setup-e2e)"
    if HA_VERSION is None:
        return f"e2e needs Home Assistant in {E2E_VENV} (run scripts/setup-e2e)"
    return None


def pytest_report_header() -> str:
    """Say which Home Assistant the suite runs on, first thing in its output."""
    return f"e2e on Home Assistant {HA_VERSION or '(none)'} ({E2E_VENV / 'bin' / 'hass'})"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip everything, with the reason, where the suite cannot run (fail if it is required).

    WW_E2E_HA (scripts/e2e sets it to the version it resolved) must be the version installed:
    a run never passes on another Home Assistant than the one asked for.
    """
    if reason := why_not():
        if os.environ.get("WW_E2E") == "required":
            pytest.exit(f"WW_E2E=required but {reason}", returncode=1)
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))
        return
    if (wanted := os.environ.get("WW_E2E_HA")) and wanted != HA_VERSION:
        pytest.exit(
            f"WW_E2E_HA={wanted} but {E2E_VENV} has Home Assistant {HA_VERSION}: "
            "run scripts/setup-e2e (scripts/e2e does)",
            returncode=1,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item (failure screenshots)."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@dataclass
class World:
    """Everything a step needs; `done` records which steps passed (later steps need them)."""

    hass: Hass
    emulator: EmulatorProcess | None
    emulator_error: str | None
    page: Page
    screens: Screens
    api: Session | None = None  # HA's HTTP API as the owner, once step 1 has onboarded
    done: set[str] = field(default_factory=set)
    facts: dict[str, Any] = field(default_factory=dict)

    def need(self, *steps: str) -> None:
        """Skip the current step when an earlier one it builds on did not pass."""
        if missing := [s for s in steps if s not in self.done]:
            pytest.skip(f"needs step(s) {', '.join(missing)}, which did not pass")


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    """Namespaces, emulator, Home Assistant (fresh), Chromium: set up once, torn down once."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    from scripts.devtools.hass import (  # noqa: PLC0415
        Hass,
        link_custom_components,
        set_network_adapters,
        write_config,
    )
    from scripts.devtools.netns import Lab, entered  # noqa: PLC0415

    from .harness import (  # noqa: PLC0415
        ARTIFACTS,
        HA_START,
        EmulatorProcess,
        Screens,
        clean_artifacts,
        close_chromium,
        launch_chromium,
        write_versions,
    )

    clean_artifacts()
    write_versions(ARTIFACTS / "versions.txt", HA_VERSION)
    lab = Lab(ha="wwe2e-ha", dev="wwe2e-dev")
    lab.down()  # leftovers of an interrupted run
    lab.up()
    config = Path(tempfile.mkdtemp(prefix="e2e-ha-config-"))
    profile = Path(tempfile.mkdtemp(prefix="e2e-chromium-"))
    write_config(config, port=8123, discovery=True)
    set_network_adapters(config, ["veth-ha"])
    link_custom_components(config)
    hass = Hass(config, 8123, prefix=lab.exec_prefix(lab.ha), executable=E2E_VENV / "bin" / "hass")
    emulator: EmulatorProcess | None = None
    emulator_error = None
    pw = ctx = None
    try:
        with entered(lab.ha):  # this process's sockets (and Chromium) live beside HA
            emulator = EmulatorProcess(lab.exec_prefix(lab.dev), lab.dev_ip)
            try:
                emulator.start()
            except Exception as err:
                emulator_error = f"{type(err).__name__}: {err}"
                emulator.stop()
                emulator = None
            hass.start()
            hass.wait_http(timeout=HA_START)
            hass.wait_log("Home Assistant initialized in", timeout=HA_START)
            pw = sync_playwright().start()
            ctx, page = launch_chromium(pw, profile)
            world = World(hass, emulator, emulator_error, page, Screens(page))
            yield world
    finally:
        if ctx is not None:
            close_chromium(ctx)
        if pw is not None:
            pw.stop()
        if emulator is not None:
            emulator.stop()
        hass.stop()
        shutil.copy(hass.log_file, ARTIFACTS / "hass.log") if hass.log_file.exists() else None
        lab.down()
        shutil.rmtree(config, ignore_errors=True)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def step(world: World, request: pytest.FixtureRequest) -> Iterator[World]:
    """Per step: a screenshot on failure, and the step recorded as done on success."""
    yield world
    rep = getattr(request.node, "rep_call", None)
    name = request.node.name.removeprefix("test_")
    if rep is not None and rep.failed:
        world.screens.shot(f"FAILED-{name}", settle=False)
    elif rep is not None and rep.passed:
        world.done.add(name.split("_")[0])
