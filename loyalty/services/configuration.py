"""What the configuration services (coupon series, programmes and tiers, stamp cards and
rewards) share.

Each change is recorded in the configuration audit trail. What the database would refuse (a taken
name, another organization's row, a negative count) is refused first as a DomainError naming the
field.
"""

from django.db.models import Model, ProtectedError

from crm import audit as config_audit
from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers.normalization import clean_text


def required_text(value: str, model, name: str) -> str:
    text = clean_text(value, max_length=model._meta.get_field(name).max_length, field=name)
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "This field is required.", field=name)
    return text


MAX_COUNT = 2**31 - 1  # what a positive integer column holds on every database


def check_count(
    value: int | None,
    *,
    field: str,
    minimum: int = 0,
    maximum: int = MAX_COUNT,
    optional: bool = False,
):
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise DomainError(
            ErrorCode.INVALID,
            f"A whole number from {minimum} to {maximum} is needed.",
            field=field,
        )


def config_delete(row, fields, actor: Actor, *, in_use: str, cascaded=()) -> None:
    """Deletes `row` and the rows in `cascaded` that go with it, each on record; a row that
    ledgers or customers' rows refer to stays (`in_use` says why)."""
    for child, child_fields in cascaded:
        config_audit.record_deleted(child, child_fields, actor=actor)
    config_audit.record_deleted(row, fields, actor=actor)
    try:
        row.delete()
    except ProtectedError:
        raise DomainError(ErrorCode.IN_USE, in_use) from None


def config_create(model: type[Model], fields, *, actor: Actor, **values) -> Model:
    """A new `model` row of `values`, its `fields` on record."""
    row = model.objects.create(**values)
    config_audit.record_created(row, fields, actor=actor)
    return row


def config_update(row: Model, *, actor: Actor, **values) -> Model:
    """Sets `values` on `row` and saves those that changed, each with its before and after value
    on record; an unchanged row is neither saved nor recorded."""
    before = config_audit.values_of(row, values)
    for name, value in values.items():
        setattr(row, name, value)
    return config_audit.save_changed(row, before, actor=actor)
