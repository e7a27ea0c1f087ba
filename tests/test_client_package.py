"""The client is a library: importable without Home Assistant, with the agreed public names."""

from __future__ import annotations

import ast
from pathlib import Path
import re
import subprocess
import sys
import tomllib

import custom_components.whatwatt.client as client_package

CLIENT_DIR = Path(client_package.__file__).parent

# Load the package under another name, the way it would live on PyPI, and list what it pulled in.
PROBE = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location(
    "whatwatt_client", {str(CLIENT_DIR / "__init__.py")!r},
    submodule_search_locations=[{str(CLIENT_DIR)!r}],
)
module = importlib.util.module_from_spec(spec)
sys.modules["whatwatt_client"] = module
spec.loader.exec_module(module)
print(sorted({{name.split(".")[0] for name in sys.modules}}))
"""


def test_client_imports_without_home_assistant() -> None:
    """Loading the client alone never imports homeassistant (it could ship on PyPI)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = result.stdout
    assert "whatwatt_client" in loaded
    assert "'aiohttp'" in loaded
    assert "homeassistant" not in loaded
    assert "custom_components" not in loaded


def test_no_source_file_mentions_home_assistant_imports() -> None:
    """No module of the client even tries to import Home Assistant."""
    for path in CLIENT_DIR.glob("*.py"):
        text = path.read_text()
        assert "import homeassistant" not in text, path.name
        assert "from homeassistant" not in text, path.name


def test_public_api_has_the_agreed_names() -> None:
    """The names CONTRACTS.md promises are exported from the package."""
    agreed = {
        "WhatwattClient", "SystemInfo", "MeterSettings", "Report", "LiveEvent", "Measurements",
        "Scaler", "WhatwattError", "WhatwattConnectionError", "WhatwattTimeoutError",
        "WhatwattAuthError", "WhatwattResponseError", "WhatwattLicenseRequired",
        "WhatwattStreamTakenOver", "WhatwattStreamStale", "WhatwattValidationError",
    }  # fmt: skip
    assert agreed <= set(client_package.__all__)
    assert all(hasattr(client_package, name) for name in client_package.__all__)


def test_package_is_typed() -> None:
    """PEP 561 marker for the integration package that contains the client."""
    assert (CLIENT_DIR.parent / "py.typed").is_file()


def _imported(path: Path) -> set[str]:
    """The top-level modules a file imports (relative imports left out)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_client_declares_exactly_what_it_imports() -> None:
    """Every third-party module the client imports is a declared dependency, and every
    declared dependency is used: it could be published as it is."""
    project = tomllib.loads((CLIENT_DIR / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[ ]", spec)[0] for spec in project["dependencies"]}
    imported = set().union(*(_imported(path) for path in CLIENT_DIR.glob("*.py")))
    third_party = imported - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party == declared
    assert (CLIENT_DIR / project["readme"]).is_file()
