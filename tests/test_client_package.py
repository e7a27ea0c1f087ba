"""The client is a library: importable without Home Assistant, with the agreed public names."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

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
        "WhatwattAuthError", "WhatwattResponseError", "WhatwattLicenceRequired",
        "WhatwattStreamTakenOver", "WhatwattStreamStale", "WhatwattValidationError",
    }  # fmt: skip
    assert agreed <= set(client_package.__all__)
    assert all(hasattr(client_package, name) for name in client_package.__all__)


def test_package_is_typed() -> None:
    """PEP 561 marker for the integration package that contains the client."""
    assert (CLIENT_DIR.parent / "py.typed").is_file()
