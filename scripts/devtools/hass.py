"""Prepare a Home Assistant config directory and run `hass` as a child process."""

from __future__ import annotations

from collections.abc import Sequence
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO = Path(__file__).resolve().parents[2]
CUSTOM_COMPONENTS = REPO / "custom_components"
HASS = Path(sys.executable).with_name("hass")
# The Home Assistant the end-to-end suite runs (scripts/setup-e2e: the newest release, or
# WW_E2E_HA), in a venv of its own; the unit suite's .venv keeps phcc's pin.
E2E_VENV = REPO / ".venv-e2e"


def ha_version(venv: Path) -> str | None:
    """Return the version of the Home Assistant installed in `venv`, or None if there is none."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    code = "from homeassistant.const import __version__; print(__version__)"
    res = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)  # noqa: S603
    if res.returncode != 0:
        return None
    return res.stdout.strip() or None


def link_custom_components(config_dir: Path) -> None:
    """Point `<config>/custom_components` at the working tree's (a symlink, never a copy)."""
    link = config_dir / "custom_components"
    if link.is_symlink() and link.resolve() == CUSTOM_COMPONENTS:
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        raise RuntimeError(f"{link} is a real directory; remove it so the working tree is used")
    link.symlink_to(os.path.relpath(CUSTOM_COMPONENTS, config_dir))


def set_discovery(config_dir: Path, *, enabled: bool) -> None:
    """Turn HA's zeroconf on (only ever inside a network namespace) or off, via a package file."""
    pkg = config_dir / "packages" / "discovery.yaml"
    if enabled:
        pkg.parent.mkdir(exist_ok=True)
        pkg.write_text(
            "# written by scripts/devtools (HA runs in a network namespace)\nzeroconf:\n"
        )
    else:
        pkg.unlink(missing_ok=True)


def set_network_adapters(config_dir: Path, adapters: list[str]) -> None:
    """Choose the interfaces HA's network integration uses (written while HA is stopped).

    `["lo"]` outside a network namespace: zeroconf drops loopback addresses, so its shared
    instance (HA creates one even without `zeroconf:`, for aiohttp's mDNS resolver) joins no
    multicast group on a real network card.  Inside a namespace: the veth end.
    """
    store = config_dir / ".storage" / "core.network"
    store.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, object] = {"version": 1, "minor_version": 1, "key": "core.network"}
    data["data"] = {"configured_adapters": adapters}
    store.write_text(json.dumps(data))


def write_config(config_dir: Path, *, port: int = 8123, discovery: bool = False) -> None:
    """Write a throwaway configuration.yaml (tests) like the committed config/ one."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(
        (REPO / "config" / "configuration.yaml")
        .read_text()
        .replace("server_port: 8123", f"server_port: {port}")
        .replace("127.0.0.1:8123", f"127.0.0.1:{port}")
    )
    set_discovery(config_dir, enabled=discovery)


@dataclass
class Hass:
    """One `hass` child process with its own config dir; output goes to `<config>/hass.out`."""

    config_dir: Path
    port: int = 8123
    prefix: Sequence[str] = ()  # e.g. ("ip", "netns", "exec", "ww-ha")
    executable: Path = HASS  # this venv's `hass`; the e2e suite's is in E2E_VENV
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    @property
    def url(self) -> str:
        """Return the base URL of the HTTP API/frontend."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        """Return the file that collects hass's stdout and stderr."""
        return self.config_dir / "hass.out"

    def start(self) -> None:
        """Start hass (in its own process group, so Ctrl-C in a terminal reaches only us)."""
        self.started = time.monotonic()
        out = self.log_file.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen(  # noqa: S603
            [*self.prefix, str(self.executable), "-c", str(self.config_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        out.close()

    def alive(self) -> bool:
        """Return True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        """Return hass's output so far."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def wait_http(self, timeout: float = 240.0) -> float:
        """Wait until the frontend answers; return the seconds since start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"hass exited early, see {self.log_file}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/manifest.json", timeout=2):  # noqa: S310
                    return time.monotonic() - self.started
            except urllib.error.URLError, OSError:
                time.sleep(0.3)
        raise TimeoutError(f"hass did not answer within {timeout} s:\n{self.tail()}")

    def wait_log(self, text: str, timeout: float = 240.0) -> float:
        """Wait until `text` appears in hass's output; return the seconds since start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return time.monotonic() - self.started
            if not self.alive():
                raise RuntimeError(f"hass exited, see {self.log_file}:\n{self.tail()}")
            time.sleep(0.3)
        raise TimeoutError(f"'{text}' not in hass output within {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        """Return the last lines of hass's output."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM the process we started (never anything found by name); SIGKILL if stuck."""
        if self.proc is None or self.proc.poll() is not None:
            return
        # With a prefix (ip netns exec) the PID is that of ip, which exec()s hass: same PID.
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(10)
