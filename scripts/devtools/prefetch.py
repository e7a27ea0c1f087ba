"""Pre-install the runtime requirements Home Assistant would pip-install at start.

HA installs each integration's manifest `requirements` when it first sets it up (the frontend,
for example).  Inside a network namespace there is no PyPI, so do it beforehand, outside:

    .venv/bin/python -m scripts.devtools.prefetch --config config [--domain NAME ...] [--dry-run]

Domains: bootstrap's always-loaded sets + configuration.yaml's top-level keys + the onboarding
entries + the custom integrations' manifests, closed over `dependencies` and
`after_dependencies`; plus the REQUIREMENTS of HA's auth providers and MFA modules (the default
TOTP module needs pyotp and PyQRCode at start, and core fails to initialise without them).
Installs with uv and HA's package_constraints.txt.  A stamp in the venv (HA version,
configuration.yaml, manifests, this file) makes a repeated run return at once.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
from importlib import metadata
import json
from pathlib import Path
import pkgutil
import re
import subprocess
import sys
from typing import Any

from .hass import CUSTOM_COMPONENTS

STAMP = Path(sys.prefix) / ".ww-prefetch-stamps"


def _ha_dir() -> Path:
    import homeassistant  # noqa: PLC0415 - slow import, skipped when the stamp matches

    return Path(homeassistant.__file__).parent


# core_config's onboarding step creates these entries (they are deleted again, but set up first)
ONBOARDING = {"met", "google_translate", "radio_browser", "shopping_list"}


def _manifest(domain: str) -> dict[str, Any] | None:
    for base in (CUSTOM_COMPONENTS, _ha_dir() / "components"):
        f = base / domain / "manifest.json"
        if f.is_file():
            data: dict[str, Any] = json.loads(f.read_text())
            return data
    return None


def requirements(config_dir: Path | None, extra: set[str]) -> dict[str, str]:
    """Return {requirement: domain that needs it} for everything HA would load."""
    from homeassistant import bootstrap  # noqa: PLC0415
    from homeassistant.util.yaml import load_yaml  # noqa: PLC0415

    domains = set(bootstrap.CORE_INTEGRATIONS) | set(bootstrap.LOGGING_AND_HTTP_DEPS_INTEGRATIONS)
    domains |= set(bootstrap.FRONTEND_INTEGRATIONS) | set(bootstrap.DEFAULT_INTEGRATIONS)
    domains |= {"recorder", "zeroconf"} | ONBOARDING | extra
    domains |= {p.parent.name for p in CUSTOM_COMPONENTS.glob("*/manifest.json")}
    if config_dir is not None and (config_dir / "configuration.yaml").is_file():
        conf = load_yaml(config_dir / "configuration.yaml") or {}
        domains |= {str(k).split(" ")[0] for k in conf}
    reqs: dict[str, str] = {}
    todo, seen = list(domains), set()
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        if (m := _manifest(domain)) is None:
            continue
        for r in m.get("requirements", []):
            reqs.setdefault(r, domain)
        todo += m.get("dependencies", []) + m.get("after_dependencies", [])
    for package in ("homeassistant.auth.providers", "homeassistant.auth.mfa_modules"):
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for r in getattr(module, "REQUIREMENTS", ()):
                reqs.setdefault(r, f"auth {info.name}")
    return reqs


def _installed(req: str) -> bool:
    name, _, version = re.split(r"(==)", req, maxsplit=1) if "==" in req else (req, "", "")
    try:
        return not version or metadata.version(name.split("[")[0]) == version
    except metadata.PackageNotFoundError:
        return False


def main() -> None:
    """Install what is missing (command line)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--domain", action="append", default=[])
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    stamp = _stamp(a.config, a.domain)
    if not a.dry_run and STAMP.exists() and stamp in STAMP.read_text().split():
        print("[prefetch] runtime requirements up to date", file=sys.stderr)
        return
    reqs = requirements(a.config, set(a.domain))
    missing = sorted(r for r in reqs if not _installed(r))
    print(f"[prefetch] {len(reqs)} runtime requirements, {len(missing)} missing", file=sys.stderr)
    for r in missing:
        print(f"  {r} ({reqs[r]})", file=sys.stderr)
    if a.dry_run:
        return
    if missing:
        uv = Path(sys.executable).with_name("uv")
        cmd = [str(uv)] if uv.exists() else [sys.executable, "-m", "uv"]
        cmd += ["pip", "install", "-q", "-p", sys.executable]
        cmd += ["--constraint", str(_ha_dir() / "package_constraints.txt"), *missing]
        # From uv's cache alone first: some have no wheel for this Python (pymicro-vad,
        # pyspeex-noise) and are compiled, a minute or more on a busy 2-core machine.  Online,
        # uv compiles them again whenever the index does not say the source is unchanged (no
        # cache headers behind some proxies: every time); offline it reuses what it built.
        # The requirements are pinned (==) and HA's constraints pin most of what they bring; a
        # dependency left open may come from the cache in an older version that satisfies them.
        offline = subprocess.call([*cmd, "--offline"], stderr=subprocess.DEVNULL)  # noqa: S603
        if offline and (rc := subprocess.call(cmd)):  # noqa: S603
            sys.exit(rc)
    with STAMP.open("a") as f:
        f.write(stamp + "\n")


def _stamp(config_dir: Path | None, domains: list[str]) -> str:
    """Identify what the requirements depend on: HA's version, the YAML, the manifests."""
    h = hashlib.sha256(metadata.version("homeassistant").encode())
    h.update(Path(__file__).read_bytes())  # a fix here must not be hidden by an old stamp
    if config_dir is not None and (config_dir / "configuration.yaml").is_file():
        h.update((config_dir / "configuration.yaml").read_bytes())
    for manifest in sorted(CUSTOM_COMPONENTS.glob("*/manifest.json")):
        h.update(manifest.read_bytes())
    h.update(" ".join(sorted(domains)).encode())
    return h.hexdigest()[:24]


if __name__ == "__main__":
    main()
