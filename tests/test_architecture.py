"""The layout's rules that import-linter does not check by itself (docs/architecture.md).

- every module of the three packages belongs to exactly one layer of .importlinter, so the layers
  contract covers all of the code and a new module is placed on purpose;
- no first-party import inside a function: a lazy import is how a dependency cycle hides (an app's
  `ready()`, where Django wants registrations imported, is the one place allowed);
- no module uses another module's private (`_name`) helpers: what two modules share is public in
  the module where it belongs. This holds for the tests and benchmarks too, so that they exercise
  what the code offers rather than its insides.
"""

import ast
import configparser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crm", "customers", "loyalty")
USERS = ("tests", "bench")  # they use the packages without being part of the layers


def _modules(packages: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules(PACKAGES)
EVERY_MODULE = _modules(PACKAGES + USERS)


def _layers() -> list[list[str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    lines = config["importlinter:contract:layers"]["layers"].split("\n")
    return [
        [name.strip() for name in line.replace("|", ":").split(":")]
        for line in lines
        if line.strip()
    ]


def _within(module: str, container: str) -> bool:
    return module == container or module.startswith(container + ".")


def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _first_party(name: str | None) -> bool:
    return bool(name) and name.split(".")[0] in PACKAGES


def test_every_module_belongs_to_one_layer():
    containers = [name for layer in _layers() for name in layer]
    unplaced, twice = [], []
    for module in MODULES:
        if module in PACKAGES:
            continue  # the package roots: their __init__ only names the app or the Celery app
        holders = [name for name in containers if _within(module, name)]
        if not holders:
            unplaced.append(module)
        elif len(holders) > 1:
            twice.append((module, holders))
    assert not unplaced, f"modules in no layer of .importlinter: {sorted(unplaced)}"
    assert not twice, f"modules in more than one layer: {twice}"


def test_every_layer_names_modules_that_exist():
    missing = [name for layer in _layers() for name in layer if name not in MODULES]
    assert not missing, f".importlinter names modules that do not exist: {missing}"


def _function_imports(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if function.name == "ready":
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom):
                if node.level or _first_party(node.module):
                    found.append((node.lineno, node.module or "."))
            elif isinstance(node, ast.Import):
                found += [(node.lineno, a.name) for a in node.names if _first_party(a.name)]
    return found


def test_no_first_party_import_inside_a_function():
    lazy = {
        module: imports
        for module, path in MODULES.items()
        if (imports := _function_imports(_parsed(path)))
    }
    assert not lazy, f"imports inside functions (move them to the top, or move the code): {lazy}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES + USERS


def _private_uses(module: str, tree: ast.Module) -> list[str]:
    path = EVERY_MODULE[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    imported_modules = set()
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, source] if source else base)
            if not _ours(source):
                continue
            for alias in node.names:
                if _private(alias.name):
                    uses.append(f"from {source} import {alias.name}")
                elif f"{source}.{alias.name}" in EVERY_MODULE:
                    imported_modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name) and alias.asname:
                    imported_modules.add(alias.asname)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
            and _private(node.attr)
        ):
            uses.append(f"{node.value.id}.{node.attr}")
    return uses


@pytest.mark.parametrize("module", sorted(EVERY_MODULE))
def test_no_module_uses_another_modules_private_names(module):
    assert not _private_uses(module, _parsed(EVERY_MODULE[module]))


def test_the_private_name_check_sees_both_forms():
    tree = ast.parse("from customers.services import _helper\nfrom crm import errors\nerrors._x\n")
    assert _private_uses("loyalty.models", tree) == [
        "from customers.services import _helper",
        "errors._x",
    ]
