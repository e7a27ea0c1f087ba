"""Helpers of the end-to-end suite: the emulator process, Chromium, screenshots, waiting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
import hashlib
from importlib import metadata
import json
import os
from pathlib import Path
import platform
import re
import secrets
import subprocess
import sys
import time
from typing import Any
import urllib.request

from playwright.sync_api import (
    BrowserContext,
    Locator,
    Page,
    Playwright,
    TimeoutError as PlaywrightTimeoutError,
    expect,
)

from scripts.devtools.hass import E2E_VENV, REPO

ARTIFACTS = REPO / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
# WW_E2E_TRACE=1: a Playwright trace (each action's start, end and call log, DOM snapshots,
# console, network) in artifacts/e2e/trace.zip; `playwright show-trace` opens it.  What to
# look at when a step is slow or times out on some machine.
TRACE = os.environ.get("WW_E2E_TRACE") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]


# --- how long to wait -----------------------------------------------------------------------------
# The suite only ever waits for a condition (an element, a URL, an HTTP answer, a log line), never
# for a fixed time; these are the limits of those waits.  They are generous on purpose: a healthy
# run under two busy loops on a 2-core machine needs a small fraction of each (slowest browser
# action seen there: about 5 s; Home Assistant up: about 50 s), and a limit only costs time when
# something is broken.  WW_E2E_TIMEOUT_SCALE multiplies them all (e.g. 3 on a very slow machine).


def _scale() -> float:
    raw = os.environ.get("WW_E2E_TIMEOUT_SCALE") or "1"
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"WW_E2E_TIMEOUT_SCALE must be a positive number, not {raw!r}")
    return value


SCALE = _scale()
# all in seconds
UI_WAIT = 60.0 * SCALE  # any one browser action or wait, navigations included
HA_START = 300.0 * SCALE  # Home Assistant answering HTTP, then logging "initialized" (each)
EMULATOR_START = 60.0 * SCALE  # the emulator's HTTP server answering
DISCOVERY = 120.0 * SCALE  # the device found over mDNS and shown under "Discovered"
LIVE_CHANGE = 60.0 * SCALE  # a live reading to change (the emulator reports every second)
# the options flow's meter link check to end (its progress step to give way): by design within
# max(30 s, 3 report intervals) of a write, after the emulator's recognition phase (none in e2e:
# EmulatorProcess.recognition_time); a lost link shows after about 5-10 s, a restored one at once
LINK_CHECK = 120.0 * SCALE
# a demand window to complete on the meter's fast clock (step 9): about half a minute at 30
# times real pace; a boundary that falls in a gap of the meter's reports (a starved emulator)
# costs one more window, half a minute more
DEMAND_WINDOW = 300.0 * SCALE
# the gas meter's flow rate (step 10): readings every 60 s (EmulatorProcess.submeters), the
# rate from the second after the integration reloaded, a clean interval by the third
GAS_FLOW = 240.0 * SCALE
# the recorder's 5-minute statistics of a sensor (step 10: the Energy dashboard's power
# graph): compiled every 5 minutes on the clock, for the 5 minutes before
STATISTICS = 420.0 * SCALE
# a meter link cut outside Home Assistant to show in the meter's Status sensor (step 11): the
# integration reads the gateway's status once no report came for 30 s (data lost), a few
# seconds later; at the latest at its next poll of the status (every 5 minutes while it is OK)
NOT_TALKING = 360.0 * SCALE
STEP_LIMIT = 900.0 * SCALE  # pytest-timeout per step, session set-up included: hangs only


def wait_for[T](
    what: str, probe: Callable[[], T | None], timeout: float = UI_WAIT, every: float = 0.5
) -> T:
    """Call `probe` until it returns something truthy; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if result := probe():
                return result
        except (OSError, AssertionError, LookupError, ValueError) as err:  # keep trying
            last = err
        time.sleep(every)
    detail = f" (last error: {last})" if last else ""
    raise TimeoutError(f"{what}: not within {timeout} s{detail}")


def http_json(url: str, method: str = "GET", data: Any = None, timeout: float = UI_WAIT) -> Any:
    """Plain HTTP JSON request (no auth)."""
    body = json.dumps(data).encode() if data is not None else None
    headers = {"Content-Type": "application/json"} if body else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def _md5(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode(), usedforsecurity=False).hexdigest()


def device_put(url: str, path: str, data: dict[str, Any], password: str) -> Any:
    """PUT JSON to the gateway's own API as its web page does; return the answer.

    From the page's origin (the device's own address), with the Web UI password: the device
    answers 401 with a Digest challenge (MD5-sess, an empty user name), and the request is
    sent again with the answer to it.  Not through Home Assistant: a change made by hand.
    """
    body = json.dumps(data).encode()
    headers = {"Content-Type": "application/json", "Origin": url}

    def put(extra: dict[str, str]) -> Any:
        req = urllib.request.Request(url + path, data=body, method="PUT", headers=headers | extra)
        with urllib.request.urlopen(req, timeout=UI_WAIT) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    try:
        return put({})  # a device without a password takes it at once
    except urllib.error.HTTPError as err:
        scheme, _, params = err.headers.get("WWW-Authenticate", "").partition(" ")
        if err.code != 401 or scheme.lower() != "digest":
            raise
    challenge = urllib.request.parse_keqv_list(urllib.request.parse_http_list(params))
    realm, nonce = challenge["realm"], challenge["nonce"]
    cnonce, nc, qop = secrets.token_hex(8), "00000001", "auth"
    ha1 = _md5(_md5("", realm, password), nonce, cnonce)  # MD5-sess
    response = _md5(ha1, nonce, nc, cnonce, qop, _md5("PUT", path))
    answer = (
        f'Digest username="", realm="{realm}", nonce="{nonce}", uri="{path}", '
        f'algorithm=MD5-sess, qop={qop}, nc={nc}, cnonce="{cnonce}", '
        f'response="{response}", opaque="{challenge.get("opaque", "")}"'
    )
    return put({"Authorization": answer})


@dataclass
class EmulatorProcess:
    """`python -m whatwatt_emulator` in the device namespace, with --mdns and --admin."""

    prefix: list[str]
    host: str
    port: int = 80
    password: str = "e2e-device-pw"
    # seconds the emulated gateway reports RECOGNITION (no data) after a change of the meter link
    # (0, the emulator's default: none, the new settings act at once; scripts/develop runs 5)
    recognition_time: float = 0.0
    # the sub-meters behind the emulated DSMR meter: its gas meter on bus 1 (M_ID 20000741), as
    # the dsmr profile has by default; said here so that a change of the emulator's default does
    # not take the device step 8 opens away.  A reading every minute, not every 5 (DSMR 5, and
    # scripts/develop): the flow rate step 10 shows needs two readings after the integration
    # reloads, which would take up to 10 minutes otherwise
    submeters: str = "1:gas:20000741:60"
    proc: subprocess.Popen[bytes] | None = None
    log_file: Path = field(default_factory=lambda: ARTIFACTS / "emulator.log")

    @property
    def url(self) -> str:
        """Base URL, reachable from HA's namespace."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start it and wait until its HTTP server answers."""
        cmd = [*self.prefix, sys.executable, "-m", "whatwatt_emulator", "--host", self.host]
        cmd += ["--port", str(self.port), "--password", self.password, "--mdns", "--admin"]
        cmd += ["--report-interval", "1.0", "--recognition-time", str(self.recognition_time)]
        cmd += ["--submeters", self.submeters]
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        wait_for("the emulator's HTTP server", self._answers, timeout=EMULATOR_START)

    def _answers(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"emulator exited: {self.log_file.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(self.url + "/api/v1/system", timeout=2)
        except urllib.error.HTTPError:
            return True  # 401: up, and protected by the password
        except OSError:
            return False
        return True

    def stop(self) -> None:
        """SIGTERM (the emulator sends its mDNS goodbye), then wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def launch_chromium(pw: Playwright, profile: Path) -> tuple[BrowserContext, Page]:
    """Debian's Chromium, headless, with a fresh profile in `profile` (a persistent context)."""
    ctx = pw.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 900},
        locale="en-US",
        timezone_id="Europe/Zurich",
        timeout=UI_WAIT * 1000,
    )
    # every Playwright wait (locators, clicks, navigations, screenshots) unless a step says more
    ctx.set_default_timeout(UI_WAIT * 1000)
    ctx.set_default_navigation_timeout(UI_WAIT * 1000)
    expect.set_options(timeout=UI_WAIT * 1000)
    if TRACE:
        ctx.tracing.start(snapshots=True)
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    return ctx, page


def close_chromium(ctx: BrowserContext) -> None:
    """Close the browser; with WW_E2E_TRACE=1 save the Playwright trace first."""
    if TRACE:
        ctx.tracing.stop(path=str(ARTIFACTS / "trace.zip"))
    ctx.close()


@contextmanager
def waiting_for(what: str) -> Iterator[None]:
    """Turn a Playwright timeout in the block into a TimeoutError that names `what`."""
    try:
        yield
    except PlaywrightTimeoutError as err:
        raise TimeoutError(f"{what}: {err.message.splitlines()[0]}") from err


def wait_dialog_closed(page: Page, what: str) -> None:
    """Wait until HA has closed the dialog `what` and popped the history entry it pushed for it.

    HA's frontend pushes a history entry when it opens a dialog, and calls history.back() once
    the dialog has finished closing (after its animation).  A page.goto() before that is undone
    by the late back(): on a busy machine step 6 landed on step 5's integration page instead of
    the action page, and waited there for an `ha-service-picker` that never came.
    """
    with waiting_for(f"{what} to close (its history entry popped)"):
        page.wait_for_function("() => !window.history.state?.dialog", polling=100)


# True once the page is still: HA's launch screen gone (it covers the app until it has loaded,
# then fades out) and no finite animation (fade, slide, ripple) running, shadow roots included
# (document.getAnimations() does not look into them).  Endless ones (spinners) do not count.
_SETTLED_JS = """() => {
  if (document.getElementById("ha-launch-screen")) return false;
  const roots = [document];
  for (let i = 0; i < roots.length; i++) {
    for (const el of roots[i].querySelectorAll("*")) if (el.shadowRoot) roots.push(el.shadowRoot);
  }
  return roots.every((root) => root.getAnimations().every((a) =>
    a.playState !== "running" || !Number.isFinite(a.effect?.getComputedTiming().endTime)));
}"""


class Screens:
    """Numbered PNG screenshots in artifacts/e2e/."""

    def __init__(self, page: Page) -> None:
        """Screenshots of `page`."""
        self.page = page
        self.taken: list[Path] = []

    def shot(self, name: str, *, settle: bool = True) -> Path:
        """Save a screenshot named `NN-name.png` and return it.

        With `settle`, once the page is still (launch screen gone, fades and slides ended);
        without (failure screenshots), at once, whatever state the page is in.
        """
        if settle:
            with waiting_for(f"the page to be still for screenshot {name!r}"):
                self.page.wait_for_function(_SETTLED_JS, polling=100)
        path = ARTIFACTS / f"{len(self.taken) + 1:02d}-{re.sub(r'[^\w.-]+', '-', name)}.png"
        self.page.screenshot(path=str(path))
        self.taken.append(path)
        return path

    def shot_if(self, name: str, locator: Locator) -> Path | None:
        """Save a screenshot of a passing state (a progress step) if `locator` shows it.

        Never waits for it: None when `locator` is not visible, before or after the screenshot
        (the state has passed meanwhile; the picture would show the next one: not kept).
        """
        if not locator.is_visible():
            return None
        path = self.shot(name)
        if locator.is_visible():
            return path
        path.unlink()
        self.taken.pop()
        return None


def write_versions(path: Path, ha: str | None) -> None:
    """Record what the run runs on (artifacts/e2e/versions.txt), Home Assistant first."""
    chromium = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    lines = [
        f"homeassistant {ha} ({E2E_VENV})",
        f"python {platform.python_version()}",
        f"playwright {metadata.version('playwright')}",
        f"chromium {chromium.splitlines()[-1] if chromium else '?'}",
    ]
    path.write_text("".join(f"{line}\n" for line in lines))


def clean_artifacts() -> None:
    """Start each run with an empty artifacts/e2e/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for p in ARTIFACTS.iterdir():
        if p.is_file():
            p.unlink()


_ROW_TEXTS_JS = """(rows) => rows.map((row) => {
  const out = [];
  const walk = (n) => {
    if (n.nodeType === 3) { const t = n.textContent.trim(); if (t) out.push(t); return; }
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) walk(c);
  };
  walk(row);
  return out;
})"""


def shown_texts(page: Page, selector: str) -> list[list[str]]:
    """The texts shown in each element matching `selector`, shadow roots included, in order."""
    texts: list[list[str]] = page.locator(selector).evaluate_all(_ROW_TEXTS_JS)
    return texts


def entity_row_value(page: Page, name: str) -> str | None:
    """Return the shown state of the entity row called `name` on a device page, or None.

    The text sits across shadow roots (name in one, value slotted), so walk them.
    """
    rows = page.locator("hui-sensor-entity-row, hui-generic-entity-row")
    for texts in rows.evaluate_all(_ROW_TEXTS_JS):
        if len(texts) >= 2 and texts[0] == name:
            return str(texts[-1])
    return None


class EmulatorAdmin:
    """The emulator's admin endpoints (--admin): its request log, state and sub-meters."""

    def __init__(self, url: str) -> None:
        """Admin API of the emulator at `url`."""
        self.url = url

    def clear_log(self) -> None:
        """Forget the requests seen so far."""
        http_json(self.url + "/_emulator/log", method="DELETE")

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Return the logged requests (method, path, body, auth, status, ...), filtered."""
        log: list[dict[str, Any]] = http_json(self.url + "/_emulator/log")
        return [
            r
            for r in log
            if (method is None or r["method"] == method) and (path is None or r["path"] == path)
        ]

    def state(self) -> dict[str, Any]:
        """Return the emulator's state (meter settings as stored on the 'device', ...)."""
        result: dict[str, Any] = http_json(self.url + "/_emulator/state")
        return result

    def submeter(self, bus: int) -> dict[str, Any]:
        """Return the sub-meter on `bus` (meter_id, medium, unit, date_time, cumulative, ...)."""
        found: list[dict[str, Any]] = http_json(self.url + "/_emulator/submeters")
        for submeter in found:
            if submeter["bus"] == bus:
                return submeter
        raise LookupError(f"the emulator has no sub-meter on bus {bus}: {found}")

    def advance_submeter(self, bus: int, amount: float) -> dict[str, Any]:
        """Add `amount` to the register of the sub-meter on `bus`, read it now; its new state."""
        url = f"{self.url}/_emulator/submeters/{bus}/advance"
        result: dict[str, Any] = http_json(url, method="POST", data={"amount": amount})
        return result

    def submeter_flow(self, bus: int, flow: float | None) -> dict[str, Any]:
        """Let `flow` (unit per hour) run through the sub-meter on `bus` from its next reading on.

        None: a household's, random.  Its state is returned.
        """
        url = f"{self.url}/_emulator/submeters/{bus}/flow"
        result: dict[str, Any] = http_json(url, method="POST", data={"flow": flow})
        return result

    def clock(self, **fields: float | None) -> dict[str, Any]:
        """Set the meter's clock (offset, speed, ahead); its state (world, ahead_now, meter...)."""
        result: dict[str, Any] = http_json(
            self.url + "/_emulator/clock", method="POST", data=fields
        )
        return result

    def load(self, power: float | None) -> dict[str, Any] | None:
        """Make the meter import `power` kW from now on (None: the simulated household again)."""
        result: dict[str, Any] | None = http_json(
            self.url + "/_emulator/load", method="POST", data={"power": power}
        )
        return result
