"""Extended field definitions: an organization's own, or global ones."""

import re

from django.db import IntegrityError, transaction

from crm import audit as config_audit
from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.choices import ExtendedFieldScope, ExtendedFieldType
from customers.models import ExtendedFieldDefinition
from customers.normalization import require_choice

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
EXTENDED_FIELD_NAME_RULE = (
    "A name is lower-case letters, digits and underscores, starting with a letter."
)


def extended_field_allowed_values(data_type: str, allowed_values: list[str]) -> list[str]:
    if data_type == ExtendedFieldType.ENUM:
        if (
            not isinstance(allowed_values, list)
            or not allowed_values
            or not all(isinstance(v, str) and v.strip() for v in allowed_values)
        ):
            raise DomainError(
                ErrorCode.INVALID, "An enum needs a list of text values.", field="allowed_values"
            )
        return [value.strip() for value in allowed_values]
    if allowed_values:
        raise DomainError(
            ErrorCode.INVALID, "Only enums have allowed values.", field="allowed_values"
        )
    return []


def extended_field_validate(
    *,
    organization: Organization | None,
    name: str,
    data_type: str,
    allowed_values: list[str] | None = None,
    scope: str = ExtendedFieldScope.CUSTOMER,
) -> list[str]:
    """The allowed values of a new extended field, cleaned, or a DomainError: the name is
    lower-case letters, digits and underscores, and not yet the organization's (or, for a global
    field, no other global field's) in its scope."""
    if not isinstance(name, str) or not FIELD_NAME.match(name):
        raise DomainError(
            ErrorCode.INVALID,
            EXTENDED_FIELD_NAME_RULE,
            field="name",
        )
    require_choice(
        data_type, ExtendedFieldType, code=ErrorCode.INVALID, field="data_type", what="data type"
    )
    require_choice(scope, ExtendedFieldScope, code=ErrorCode.INVALID, field="scope", what="scope")
    values = extended_field_allowed_values(data_type, allowed_values or [])
    if ExtendedFieldDefinition.objects.filter(
        organization=organization, scope=scope, name=name
    ).exists():
        raise _extended_field_taken(name)
    return values


def _extended_field_taken(name: str) -> DomainError:
    return DomainError(
        ErrorCode.EXTENDED_FIELD_TAKEN,
        f"The organization already has an extended field {name!r}.",
        field="name",
    )


EXTENDED_FIELD_FIELDS = ("name", "data_type", "allowed_values", "scope")


def extended_field_define(
    *,
    organization: Organization | None,
    name: str,
    data_type: str,
    allowed_values: list[str] | None = None,
    scope: str = ExtendedFieldScope.CUSTOMER,
    actor: Actor = SYSTEM,
) -> ExtendedFieldDefinition:
    """A new extended field of the organization's own (it takes precedence over a global one),
    or, with no organization, a global one."""
    values = extended_field_validate(
        organization=organization,
        name=name,
        data_type=data_type,
        allowed_values=allowed_values,
        scope=scope,
    )
    try:
        with transaction.atomic():
            definition = ExtendedFieldDefinition.objects.create(
                organization=organization,
                name=name,
                data_type=data_type,
                allowed_values=values,
                scope=scope,
            )
            config_audit.record_created(definition, EXTENDED_FIELD_FIELDS, actor=actor)
    except IntegrityError:
        raise _extended_field_taken(name) from None
    return definition


@transaction.atomic
def extended_field_update(
    *, definition: ExtendedFieldDefinition, allowed_values: list[str], actor: Actor = SYSTEM
) -> ExtendedFieldDefinition:
    """An enum's allowed values change; the name and type, which stored values follow, stay."""
    before = config_audit.values_of(definition, ["allowed_values"])
    definition.allowed_values = extended_field_allowed_values(definition.data_type, allowed_values)
    return config_audit.save_changed(definition, before, actor=actor)


@transaction.atomic
def extended_field_delete(*, definition: ExtendedFieldDefinition, actor: Actor = SYSTEM) -> None:
    config_audit.record_deleted(definition, EXTENDED_FIELD_FIELDS, actor=actor)
    definition.delete()
