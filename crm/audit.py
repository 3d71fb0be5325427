"""The configuration audit trail: each created, changed or deleted store, API key, status label,
extended-field definition, programme, tier, stamp card, reward, points reward and coupon series,
with its before and after values and who made it.

Services record; nothing else writes these. Values are kept as JSON: dates as ISO text, amounts
as decimal text without trailing zeros, related rows by their name or code.
"""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Model

from .actors import Actor
from .models import ConfigurationChange


def as_json(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):  # 2500.50 as given, 2500.5000 as stored: the same amount
        return format(value.normalize(), "f")
    if hasattr(value, "_meta"):  # a related row: by what people know it as
        return getattr(value, "name", None) or getattr(value, "code", None) or str(value)
    return value


def values_of(row: Model, names: Iterable[str]) -> dict[str, Any]:
    """The row's current values of `names`: what a change is measured against."""
    return {name: getattr(row, name) for name in names}


def organization_id_of(row: Model) -> int | None:
    """The organization the row belongs to, by its model's TENANT_PATH."""
    *path, last = row.TENANT_PATH.split("__")
    owner = row
    for name in path:
        owner = getattr(owner, name)
    return getattr(owner, f"{last}_id")


def record(row: Model, *, action: str, changes: dict[str, tuple], actor: Actor) -> None:
    """`changes` is {field: (before, after)}."""
    ConfigurationChange.objects.create(
        organization_id=organization_id_of(row),
        subject=row._meta.verbose_name,
        object_id=row.pk,
        object_repr=str(row)[:200],
        action=action,
        changes={name: [as_json(b), as_json(a)] for name, (b, a) in changes.items()},
        actor=str(actor),
        actor_context=actor.context,
        request_id=actor.request_id,
    )


def record_created(row: Model, names: Iterable[str], *, actor: Actor) -> None:
    changes = {name: (None, value) for name, value in values_of(row, names).items()}
    record(row, action="created", changes=changes, actor=actor)


def record_changed(row: Model, before: dict[str, Any], *, actor: Actor) -> list[str]:
    """Records the fields of `row` whose values differ from `before`, and returns their names
    (none: nothing is recorded)."""
    changes = {
        name: (value, getattr(row, name))
        for name, value in before.items()
        if value != getattr(row, name)
    }
    if changes:
        record(row, action="changed", changes=changes, actor=actor)
    return list(changes)


def save_changed(row: Model, before: dict[str, Any], *, actor: Actor) -> Model:
    """Saves the fields of `row` that differ from `before`, with their change on record; an
    unchanged row is neither saved nor recorded."""
    if changed := record_changed(row, before, actor=actor):
        # A save of some fields sets an auto_now timestamp (updated_at) only when it is among them.
        stamped = [f.name for f in row._meta.concrete_fields if getattr(f, "auto_now", False)]
        row.save(update_fields=[*changed, *stamped])
    return row


def record_deleted(row: Model, names: Iterable[str], *, actor: Actor) -> None:
    changes = {name: (value, None) for name, value in values_of(row, names).items()}
    record(row, action="deleted", changes=changes, actor=actor)
