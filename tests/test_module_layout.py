"""The package keeps Home Assistant core's layout rules, which no local tool checks for us.

* ``hass-enforce-class-module`` (core ``pylint/plugins/hass_enforce_class_module.py``, commit
  b3d6e248): a DataUpdateCoordinator subclass lives in ``coordinator.py``; a subclass of a
  platform's entity or entity description lives in that platform's module; a class derived
  directly from CoordinatorEntity / Entity / EntityDescription, with no platform class among
  its ancestors, lives in ``entity.py``.
* No import cycle at runtime between the package's modules (imports under TYPE_CHECKING do
  not run).
* ``last_update_success`` is the coordinators' own: nothing here sets it by hand.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
import pkgutil

from homeassistant.const import Platform
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator
import pytest

import custom_components.whatwatt as package

PACKAGE_DIR = Path(package.__file__).parent
MODULES = sorted(
    name
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix=f"{package.__name__}.")
    if not (name := info.name).endswith("__main__")
)
BASE_ENTITY_CLASSES = {"BaseCoordinatorEntity", "CoordinatorEntity", "Entity", "EntityDescription"}


def _platform_of(cls: type) -> str | None:
    """The platform whose entity or entity description ``cls`` derives from, if any."""
    for ancestor in cls.__mro__:
        module = ancestor.__module__
        for platform in Platform:
            if module.startswith(f"homeassistant.components.{platform.value}") and (
                ancestor.__name__.endswith(("Entity", "EntityDescription"))
            ):
                return platform.value
    return None


def _own_classes() -> list[tuple[str, type]]:
    classes = []
    for name in MODULES:
        module = importlib.import_module(name)
        classes += [
            (name.rsplit(".", 1)[1], cls)
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == name
        ]
    return classes


@pytest.mark.parametrize(("module", "cls"), _own_classes(), ids=lambda v: getattr(v, "__name__", v))
def test_class_lives_in_the_module_core_expects(module: str, cls: type) -> None:
    """Coordinators in coordinator.py, platform classes in their platform, base entities in
    entity.py (the rule of core's ``hass-enforce-class-module``)."""
    if issubclass(cls, DataUpdateCoordinator):
        assert module == "coordinator", cls
        return
    if (platform := _platform_of(cls)) is not None:
        assert module == platform, cls
        return
    direct = {base.__name__ for base in cls.__bases__}
    if direct & BASE_ENTITY_CLASSES or issubclass(cls, CoordinatorEntity | Entity):
        assert module == "entity", cls
    if issubclass(cls, EntityDescription):
        pytest.fail(f"{cls} is an entity description outside a platform module")


def _runtime_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports when it runs (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    package_path = path.relative_to(PACKAGE_DIR.parent.parent).with_suffix("")
    parts = list(package_path.parts)
    if parts[-1] == "__init__":
        parts.pop()
    imported: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.ImportFrom) and node.level:
                base = parts[: len(parts) - node.level + (1 if path.stem == "__init__" else 0)]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                if node.module is None:
                    imported.update(f"{target}.{alias.name}" for alias in node.names)
                else:
                    imported.add(target)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)

    visit(tree.body)
    return {name for name in imported if name in MODULES or name == package.__name__}


def test_no_runtime_import_cycle() -> None:
    """Each module can be understood on its own: the runtime imports form no cycle."""
    graph = {
        ".".join(path.relative_to(PACKAGE_DIR.parent.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): _runtime_imports(path)
        for path in PACKAGE_DIR.rglob("*.py")
    }
    done: set[str] = set()

    def walk(node: str, stack: list[str]) -> None:
        if node in stack:
            pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(node) :], node]))
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            if target != package.__name__:  # the package itself only wires things together
                walk(target, [*stack, node])
        done.add(node)

    for node in sorted(graph):
        walk(node, [])
    assert graph[f"{package.__name__}.live"] >= {f"{package.__name__}.coordinator"}


def test_coordinator_state_is_never_set_by_hand() -> None:
    """Availability comes from DataUpdateCoordinator itself (refresh, async_set_update_error,
    async_set_updated_data): no module assigns last_update_success or last_exception."""
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                assert node.attr not in {"last_update_success", "last_exception"}, path
