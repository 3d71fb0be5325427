"""A customer's identifiers: added to a source account, changed, removed."""

from django.db import IntegrityError, transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers import audit
from customers.closure import customer_lock_open
from customers.inputs import IdentifierInput
from customers.models import Customer, Identifier, SourceAccount
from customers.normalization import clean_source, clean_text
from customers.services.touch import customer_touch
from customers.validation import clean_identifier


def identifier_validate(
    *,
    organization: Organization,
    source: str,
    account_id: str,
    data: IdentifierInput,
    exclude: Identifier | None = None,
) -> tuple[str, str, IdentifierInput]:
    """The source, account id and identifier, normalised; refused if the source account has it."""
    source = clean_source(source)
    account_id = clean_text(account_id or "", max_length=64, field="account_id")
    cleaned = clean_identifier(organization.default_region, data, "")
    taken = Identifier.objects.filter(
        organization=organization,
        source=source,
        account_id=account_id,
        type=cleaned.type,
        value=cleaned.value,
    )
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise DomainError(
            ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
            f"{cleaned.type} {cleaned.value!r} is already registered in {source}.",
            field="value",
        )
    identifier = IdentifierInput(
        type=cleaned.type,
        value=cleaned.value,
        series_id=cleaned.series_id,
        status_label=cleaned.status_label,
        extended_fields=cleaned.extended_fields,
    )
    return source, account_id, identifier


@transaction.atomic
def identifier_add(
    *,
    customer: Customer,
    source: str,
    account_id: str = "",
    data: IdentifierInput,
    actor: Actor = SYSTEM,
) -> Identifier:
    """Add an identifier to the customer's account in `source` (created if it has none)."""
    customer_lock_open(customer.pk)
    source, account_id, cleaned = identifier_validate(
        organization=customer.organization, source=source, account_id=account_id, data=data
    )
    source_account, _ = SourceAccount.objects.get_or_create(
        customer=customer, source=source, account_id=account_id
    )
    customer_touch(customer.pk)
    try:
        with transaction.atomic():
            identifier = Identifier.objects.create(
                organization_id=customer.organization_id,
                customer=customer,
                source_account=source_account,
                source=source,
                account_id=account_id,
                type=cleaned.type,
                value=cleaned.value,
                series_id=cleaned.series_id,
                status_label=cleaned.status_label,
                extended_fields=cleaned.extended_fields,
            )
    except IntegrityError:
        # Registered by a concurrent call between the check and the insert.
        raise DomainError(
            ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
            f"{cleaned.type} {cleaned.value!r} is already registered in {source}.",
            field="value",
        ) from None
    audit.record(
        customer,
        subject="identifier",
        action="added",
        changes={audit.identifier_label(identifier): (None, identifier.value)},
        actor=actor,
    )
    return identifier


@transaction.atomic
def identifier_update(
    *, identifier: Identifier, data: IdentifierInput, actor: Actor = SYSTEM
) -> Identifier:
    """Change an identifier's value or card details; its type and source account stay."""
    customer_lock_open(identifier.customer_id)
    if data.type != identifier.type:
        raise DomainError(
            ErrorCode.IDENTIFIER_IMMUTABLE,
            "An identifier's type cannot change; remove it and add another.",
            field="type",
        )
    _, _, cleaned = identifier_validate(
        organization=identifier.organization,
        source=identifier.source,
        account_id=identifier.account_id,
        data=data,
        exclude=identifier,
    )
    names = ["value", "series_id", "status_label", "extended_fields"]
    before = {name: getattr(identifier, name) for name in names}
    identifier.value = cleaned.value
    identifier.series_id = cleaned.series_id
    identifier.status_label = cleaned.status_label
    identifier.extended_fields = cleaned.extended_fields
    changes = audit.changed_fields(identifier, names, before)
    if not changes:
        return identifier
    identifier.save(update_fields=names)
    customer_touch(identifier.customer_id)
    label = audit.identifier_label(identifier)
    audit.record(
        identifier.customer,
        subject="identifier",
        action="updated",
        changes={f"{label}: {name}": change for name, change in changes.items()},
        actor=actor,
    )
    return identifier


@transaction.atomic
def identifier_remove(*, identifier: Identifier, actor: Actor = SYSTEM) -> None:
    customer_lock_open(identifier.customer_id)
    identifier.delete()
    customer_touch(identifier.customer_id)
    audit.record(
        identifier.customer,
        subject="identifier",
        action="removed",
        changes={audit.identifier_label(identifier): (identifier.value, None)},
        actor=actor,
    )
