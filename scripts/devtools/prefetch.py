"""Pre-install the runtime requirements Home Assistant would pip-install at start.

HA installs each integration's manifest `requirements` when it first sets it up (the frontend,
for example).  Inside a network namespace there is no PyPI, so do it beforehand, outside:

    .venv/bin/python -m scripts.devtools.prefetch --config config [--domain NAME ...] [--dry-run]

Domains: bootstrap's always-loaded sets + configuration.yaml's top-level keys + the onboarding
entries + the custom integrations' manifests, closed over `dependencies` and
`after_dependencies`.  Installs with uv and HA's package_constraints.txt; quick when present.
"""

from __future__ import annotations

import argparse
from importlib import metadata
import json
from pathlib import Path
import re
import subprocess
import sys
from typing import Any

import homeassistant
from homeassistant import bootstrap
from homeassistant.util.yaml import load_yaml

from .hass import CUSTOM_COMPONENTS

HA_DIR = Path(homeassistant.__file__).parent
# core_config's onboarding step creates these entries (they are deleted again, but set up first)
ONBOARDING = {"met", "google_translate", "radio_browser", "shopping_list"}


def _manifest(domain: str) -> dict[str, Any] | None:
    for base in (CUSTOM_COMPONENTS, HA_DIR / "components"):
        f = base / domain / "manifest.json"
        if f.is_file():
            data: dict[str, Any] = json.loads(f.read_text())
            return data
    return None


def requirements(config_dir: Path | None, extra: set[str]) -> dict[str, str]:
    """Return {requirement: domain that needs it} for everything HA would load."""
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
    reqs = requirements(a.config, set(a.domain))
    missing = sorted(r for r in reqs if not _installed(r))
    print(f"[prefetch] {len(reqs)} runtime requirements, {len(missing)} missing", file=sys.stderr)
    if not missing or a.dry_run:
        for r in missing:
            print(f"  {r} ({reqs[r]})", file=sys.stderr)
        return
    uv = Path(sys.executable).with_name("uv")
    cmd = [str(uv)] if uv.exists() else [sys.executable, "-m", "uv"]
    cmd += ["pip", "install", "-q", "-p", sys.executable]
    cmd += ["--constraint", str(HA_DIR / "package_constraints.txt"), *missing]
    sys.exit(subprocess.call(cmd))  # noqa: S603


if __name__ == "__main__":
    main()
