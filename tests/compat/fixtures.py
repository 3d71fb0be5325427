"""The recorded examples of the vendor documents in ../shared/seeds, kept beside each vendor's
package in customers/compat/<vendor>/fixtures/."""

import json
from pathlib import Path

import customers.compat

PACKAGES = Path(customers.compat.__file__).parent


def fixtures(vendor: str) -> Path:
    return PACKAGES / vendor / "fixtures"


def load(vendor: str, name: str):
    return json.loads((fixtures(vendor) / name).read_text())


def examples(vendor: str, pattern: str) -> list[str]:
    return sorted(path.name for path in fixtures(vendor).glob(pattern))


def same_shape(ours, documented, path="") -> list[str]:
    """Where `ours` differs in keys or value types from a documented example ([] if nowhere)."""
    if isinstance(documented, dict):
        if not isinstance(ours, dict):
            return [f"{path or '.'}: expected an object"]
        problems = [f"{path}.{key}: missing" for key in documented.keys() - ours.keys()]
        problems += [f"{path}.{key}: not documented" for key in ours.keys() - documented.keys()]
        for key in documented.keys() & ours.keys():
            problems += same_shape(ours[key], documented[key], f"{path}.{key}")
        return problems
    if isinstance(documented, list):
        if not isinstance(ours, list):
            return [f"{path}: expected a list"]
        if documented:
            return [
                p
                for i, item in enumerate(ours)
                for p in same_shape(item, documented[0], f"{path}[{i}]")
            ]
        return []
    if documented is None or ours is None:
        return []
    number = (int, float)
    if isinstance(documented, bool) or isinstance(ours, bool):
        return (
            []
            if type(documented) is type(ours)
            else [f"{path}: {ours!r} is not like {documented!r}"]
        )
    if isinstance(documented, number) and isinstance(ours, number):
        return []
    return (
        [] if type(documented) is type(ours) else [f"{path}: {ours!r} is not like {documented!r}"]
    )
