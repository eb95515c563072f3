"""What an installed product may import: no simulator, and for the gateway nothing of the
kiosk's. Read from the source (every import statement, at any depth), so an import inside
a function that no test happens to call is caught as well."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    """{source file: modules it imports}, for every .py file of the package."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        here = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against this module's package
                    base = here.split(".")[: -node.level]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module or ""
                modules.add(module)
                modules.update(f"{module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(ROOT))] = modules
    return found


def offending(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{source}: {module}"
        for source, modules in imported_modules(package).items()
        for module in modules
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    )


def test_the_gateway_imports_no_simulator_and_nothing_of_the_kiosk():
    assert offending("gateway", ("simulators", "firmware.kiosk")) == []


def test_firmware_imports_no_simulator():
    assert offending("firmware", ("simulators",)) == []


def test_shared_firmware_imports_nothing_of_the_kiosk():
    """Code the gateway, provisioning or a board use lives outside firmware/kiosk/."""
    shared = {source: modules for source, modules in imported_modules("firmware").items()
              if not source.startswith("firmware/kiosk/")}
    assert sorted(f"{source}: {module}" for source, modules in shared.items()
                  for module in modules if module.startswith("firmware.kiosk")) == []


def test_provisioning_imports_no_simulator():
    assert offending("provisioning", ("simulators",)) == []


def test_the_scan_sees_what_it_should():
    """The scan itself: an import of a forbidden module in a package is found."""
    simulators = imported_modules("simulators")
    assert any(m.startswith("gateway") for mods in simulators.values() for m in mods)
