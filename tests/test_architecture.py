"""The layering of DESIGN.md, checked on every run: dependencies point one way, from the
composition root down to the kernel, and nothing imports the root; and a domain package
reaches another only through its public API."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "core",
    "orders",
    "parts",
    "billing",
    "callbacks",
    "recordings",
    "ivr",
    "telephony",
    "agent_console",
    "migrations",
    "callcenter",
)
DOMAIN = (
    "orders",
    "parts",
    "billing",
    "callbacks",
    "recordings",
    "ivr",
    "telephony",
    "agent_console",
)
"""Held to each other's public APIs. ``core`` is the kernel: each of its modules is one
facility, imported as such. ``callcenter`` (the composition root) and ``migrations`` wire
routes, jobs, channels and tables, which no public API exports."""


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_import_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_domain_package_importing_the_root_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: the same contracts over a copy where `orders` reaches up into
    the composition root."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    (tmp_path / "orders" / "reaches_up.py").write_text(
        "from callcenter.settings import Settings\n\nSETTINGS = Settings\n"
    )

    result = _lint_imports(tmp_path)

    assert result.returncode != 0, result.stdout
    assert "orders.reaches_up -> callcenter.settings" in result.stdout


def _public_names(tree: Path, module: str) -> set[str] | None:
    """``__all__`` of a package's ``__init__``: its public API; None for a plain module, or
    a package that declares none (its insides are private)."""
    init = tree.joinpath(*module.split("."), "__init__.py")
    if not init.is_file():
        return None
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return None


def _reaches_past(tree: Path, module: str, names: list[str]) -> str | None:
    """Why importing ``names`` from ``module`` reaches past its package's public API."""
    public = _public_names(tree, module)
    if public is None:
        return f"{module} is not a public API"
    hidden = sorted(set(names) - public - {"*"})
    return f"{', '.join(hidden)} not in {module}.__all__" if hidden else None


def private_imports(tree: Path) -> list[str]:
    """Every import in a domain package that reaches into another package's insides."""
    found = []
    for package in DOMAIN:
        for path in sorted((tree / package).rglob("*.py")):
            where = path.relative_to(tree)
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imports = [(node.module, [alias.name for alias in node.names])]
                elif isinstance(node, ast.Import):
                    imports = [(alias.name, []) for alias in node.names]
                else:
                    continue
                for module, names in imports:
                    top = module.split(".")[0]
                    if top == package or top not in DOMAIN:
                        continue
                    why = _reaches_past(tree, module, names)
                    if why:
                        found.append(f"{where}:{node.lineno}: {module}: {why}")
    return found


def test_packages_import_each_other_through_their_public_api_only() -> None:
    assert private_imports(ROOT) == []


def test_reaching_into_another_package_is_found(tmp_path: Path) -> None:
    """The check can fail: a copy where the console reaches into orders' services, asks
    orders for a name it does not export, and imports a channel's insides."""
    for package in DOMAIN:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    (tmp_path / "agent_console" / "reaches_in.py").write_text(
        "import telephony.twilio.media\n"
        "from orders import AWAITED_STATES\n"
        "from orders.services.lookup import lookup_caller\n"
        "from orders import Actor, lookup_caller as lookup\n"
        "from orders.http import Staff\n"
    )

    assert private_imports(tmp_path) == [
        "agent_console/reaches_in.py:1: telephony.twilio.media: "
        "telephony.twilio.media is not a public API",
        "agent_console/reaches_in.py:2: orders: AWAITED_STATES not in orders.__all__",
        "agent_console/reaches_in.py:3: orders.services.lookup: "
        "orders.services.lookup is not a public API",
    ]
