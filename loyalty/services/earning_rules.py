"""Configuring a programme's earning rules: each kind's parameters checked and kept in one form
(decimals as text), the stores a rule is limited to the programme's organization's own.

A change applies to the purchases recorded after it: what earlier purchases earned stays.
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Store

from ..choices import EarningKind, Rounding
from ..models import Program
from ..transactions import EarningRule
from .configuration import (
    check_count,
    config_create,
    config_delete,
    config_update,
    required_text,
)

RULE_FIELDS = ("name", "kind", "parameters", "priority", "active_from", "active_until")

# Each kind's parameters and what each holds.
PARAMETERS: dict[str, dict[str, str]] = {
    EarningKind.BASE_RATE: {"points": "points", "per": "amount", "rounding": "rounding"},
    EarningKind.MINIMUM_SPEND: {"amount": "amount"},
    EarningKind.CATEGORY_MULTIPLIER: {"category": "text", "multiplier": "multiplier"},
    EarningKind.SKU_MULTIPLIER: {"sku": "text", "multiplier": "multiplier"},
    EarningKind.TIER_MULTIPLIER: {"tier": "tier", "multiplier": "multiplier"},
    EarningKind.FIRST_PURCHASE_BONUS: {"points": "points"},
    EarningKind.BIRTHDAY_BONUS: {"points": "points"},
    EarningKind.TRANSACTION_CAP: {"points": "limit"},
    EarningKind.DAILY_CAP: {"points": "limit"},
}
MAX_TEXT = 64  # a line's sku and category hold as much


def _invalid(message: str, name: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field=f"parameters.{name}")


def _decimal(value, name: str, *, minimum: Decimal, strictly: bool) -> str:
    try:
        number = Decimal(str(value)) if isinstance(value, int | str) else None
    except InvalidOperation:
        number = None
    if isinstance(value, bool) or number is None or not number.is_finite():
        raise _invalid('A decimal number, e.g. "1.50", is needed.', name)
    if number < minimum or (strictly and number == minimum):
        raise _invalid(f"Must be {'over' if strictly else 'at least'} {minimum}.", name)
    if number.as_tuple().exponent < -4:
        raise _invalid("At most 4 decimal places.", name)
    return str(number)


def _parameter(program: Program, kind: str, name: str, value):
    field = f"parameters.{name}"
    if kind in ("points", "limit", "tier"):
        check_count(value, field=field, minimum=0 if kind == "limit" else 1)
        if kind == "tier" and not program.tiers.filter(number=value).exists():
            raise DomainError(
                ErrorCode.TIER_UNKNOWN, f"{program.name!r} has no tier number {value}.", field=field
            )
        return value
    if kind == "amount":
        return _decimal(value, name, minimum=Decimal(0), strictly=name == "per")
    if kind == "multiplier":
        return _decimal(value, name, minimum=Decimal(1), strictly=True)
    if kind == "rounding":
        if value not in Rounding.values:
            raise _invalid(f"One of {', '.join(Rounding.values)}.", name)
        return value
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_TEXT:
        raise _invalid(f"A text of 1 to {MAX_TEXT} characters is needed.", name)
    return value.strip()


def earning_rule_validate(
    *,
    program: Program,
    name: str,
    kind: str,
    parameters: dict,
    priority: int,
    active_from: datetime | None,
    active_until: datetime | None,
    stores: Iterable[Store] = (),
) -> dict:
    """The rule's values, cleaned; a DomainError names the first field that is wrong."""
    if kind not in PARAMETERS:
        raise DomainError(ErrorCode.INVALID, "No such kind of earning rule.", field="kind")
    if not isinstance(parameters, dict):
        raise DomainError(ErrorCode.INVALID, "An object is needed.", field="parameters")
    expected = PARAMETERS[kind]
    unknown = sorted(set(parameters) - set(expected))
    if unknown:
        raise _invalid(f"{kind} takes no {unknown[0]!r}.", unknown[0])
    cleaned = {}
    for parameter, holds in expected.items():
        if parameter not in parameters:
            raise DomainError(
                ErrorCode.REQUIRED, "This parameter is required.", field=f"parameters.{parameter}"
            )
        cleaned[parameter] = _parameter(program, holds, parameter, parameters[parameter])
    check_count(priority, field="priority")
    if active_from and active_until and active_until <= active_from:
        raise DomainError(
            ErrorCode.INVALID, "The rule must end after it starts.", field="active_until"
        )
    for store in stores:
        if store.organization_id != program.organization_id:
            raise DomainError(ErrorCode.STORE_UNKNOWN, "No such store.", field="stores")
    return {
        "name": required_text(name, EarningRule, "name"),
        "kind": kind,
        "parameters": cleaned,
        "priority": priority,
        "active_from": active_from,
        "active_until": active_until,
    }


@transaction.atomic
def earning_rule_create(
    *, program: Program, stores: Iterable[Store] = (), actor: Actor = SYSTEM, **values
) -> EarningRule:
    stores = list(stores)
    cleaned = earning_rule_validate(program=program, stores=stores, **values)
    rule = config_create(EarningRule, RULE_FIELDS, actor=actor, program=program, **cleaned)
    rule.stores.set(stores)
    return rule


@transaction.atomic
def earning_rule_update(
    *, rule: EarningRule, stores: Iterable[Store] = (), actor: Actor = SYSTEM, **values
) -> EarningRule:
    stores = list(stores)
    cleaned = earning_rule_validate(program=rule.program, stores=stores, **values)
    rule = config_update(rule, actor=actor, **cleaned)
    rule.stores.set(stores)
    return rule


@transaction.atomic
def earning_rule_delete(*, rule: EarningRule, actor: Actor = SYSTEM) -> None:
    config_delete(
        rule,
        RULE_FIELDS,
        actor,
        in_use=f"Purchases earned points by {rule.name!r}: end it (active until) instead.",
    )
