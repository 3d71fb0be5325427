"""Reads of customers' identity, always within one organization: the customers, their
extended field definitions and their history. Reads that include loyalty data are in
customers.membership."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Q, QuerySet

from crm.errors import DomainError, ErrorCode
from crm.models import Organization

from .choices import ExtendedFieldScope
from .models import AuditEvent, Customer, ExtendedFieldDefinition, Identifier
from .normalization import (
    clean_text,
    normalize_email,
    normalize_identifier,
    normalize_phone,
)

SUMMARY_FIELDS = (
    "id",
    "public_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "external_id",
    "loyalty_type",
    "status",
    "created_at",
    "updated_at",
)


def customers_of(organization: Organization) -> QuerySet[Customer]:
    """The organization's customers, without the tombstones of merged-away ones."""
    return Customer.objects.filter(organization=organization, merged_into__isnull=True)


def customer_get(
    *, organization: Organization, public_id: str | None = None, pk: int | None = None
) -> Customer | None:
    """The customer with this public id (or primary key); for a merged-away customer's, the
    customer it was merged into."""
    key = {"public_id": public_id} if public_id is not None else {"pk": pk}
    customer = (
        Customer.objects.filter(organization=organization, **key)
        .select_related("organization", "merged_into__organization")
        .first()
    )
    if customer is not None and customer.merged_into is not None:
        return customer.merged_into
    return customer


def customer_by_identifier(
    *, organization: Organization, type_: str, value: str, field: str = "identifier"
) -> Customer | None:
    """The customer holding the identifier, in whichever source account (the survivor, for a
    merged-away one's); None when no one does, an IDENTIFIERS_CONFLICT when several do."""
    type_, value = normalize_identifier(
        type_, value, region=organization.default_region, field=field
    )
    holders = set(
        Identifier.objects.filter(organization=organization, type=type_, value=value).values_list(
            "customer_id", flat=True
        )
    )
    if len(holders) > 1:
        raise DomainError(
            ErrorCode.IDENTIFIERS_CONFLICT,
            "The identifier belongs to more than one customer.",
            field=field,
        )
    return customer_get(organization=organization, pk=holders.pop()) if holders else None


def customers_known_as(
    queryset: QuerySet[Customer],
    *,
    organization: Organization,
    external_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    identifier: tuple[str, str] | None = None,
) -> QuerySet[Customer]:
    """The customers of `queryset` with exactly these values, normalised as registration
    normalises them (a DomainError naming the argument that cannot be); each condition is served
    by a unique index of the organization, or by its identifiers' (type, value) index."""
    region = organization.default_region
    if external_id is not None:
        limit = Customer._meta.get_field("external_id").max_length
        queryset = queryset.filter(
            external_id=clean_text(external_id, max_length=limit, field="external_id")
        )
    if email is not None:
        queryset = queryset.filter(email=normalize_email(email))
    if phone is not None:
        queryset = queryset.filter(phone=normalize_phone(phone, region=region))
    if identifier is not None:
        try:
            type_, value = normalize_identifier(*identifier, region=region, field="identifier")
        except DomainError as error:
            # One parameter holds both parts: the error names it, not a part.
            raise DomainError(error.code, error.message, field="identifier") from None
        holders = Identifier.objects.filter(organization=organization, type=type_, value=value)
        queryset = queryset.filter(pk__in=holders.values("customer_id"))
    return queryset


@dataclass
class CustomersFound:
    """Customers looked up set-wise (customers_found), answering as customer_get and
    customer_by_identifier answer one at a time."""

    by_public_id: dict[str, Customer]
    holders: dict[tuple[str, str], set[int]]  # the ids of the customers holding each identifier
    by_pk: dict[int, Customer]

    def by_identifier(self, type_: str, value: str, *, field: str) -> Customer | None:
        """The holder of the identifier, normalised (normalize_identifier); None when no one
        holds it, an IDENTIFIERS_CONFLICT when several do."""
        holders = self.holders.get((type_, value), set())
        if len(holders) > 1:
            raise DomainError(
                ErrorCode.IDENTIFIERS_CONFLICT,
                "The identifier belongs to more than one customer.",
                field=field,
            )
        return self.by_pk[next(iter(holders))] if holders else None


def customers_found(
    *,
    organization: Organization,
    public_ids: Iterable[str] = (),
    identifiers: Iterable[tuple[str, str]] = (),
) -> CustomersFound:
    """The customers with these public ids and those holding these (normalised) identifiers,
    in two queries at most; for a merged-away customer, the customer it was merged into. Each
    comes with its status label, which says whether they may earn."""
    public_ids, identifiers = set(public_ids), set(identifiers)
    holders: dict[tuple[str, str], set[int]] = {}
    if identifiers:
        by_type: dict[str, set[str]] = {}
        for type_, value in identifiers:
            by_type.setdefault(type_, set()).add(value)
        held = Identifier.objects.filter(
            reduce(or_, (Q(type=type_, value__in=values) for type_, values in by_type.items())),
            organization=organization,
        )
        for type_, value, customer_id in held.values_list("type", "value", "customer_id"):
            holders.setdefault((type_, value), set()).add(customer_id)
    holder_ids = set().union(*holders.values())
    found = CustomersFound({}, holders, {})
    if not public_ids and not holder_ids:
        return found
    customers = list(
        Customer.objects.filter(
            Q(public_id__in=public_ids) | Q(pk__in=holder_ids), organization=organization
        ).select_related("status_label")
    )
    # Merged-away customers are few: their survivors are read apart, when there are any.
    merged = {customer.merged_into_id for customer in customers} - {None}
    survivors = Customer.objects.select_related("status_label").in_bulk(merged) if merged else {}
    for customer in customers:
        survivor = survivors.get(customer.merged_into_id, customer)
        if customer.public_id in public_ids:
            found.by_public_id[customer.public_id] = survivor
        found.by_pk[customer.pk] = survivor
    return found


def customer_summaries(*, organization: Organization) -> QuerySet:
    """The organization's customers as rows of SUMMARY_FIELDS: what a list of them shows."""
    return customers_of(organization).values(*SUMMARY_FIELDS)


def extended_field_definitions(
    *, organization: Organization, scope: str = ExtendedFieldScope.CUSTOMER
) -> dict[str, ExtendedFieldDefinition]:
    """The definitions an organization may use, by name; its own win over global ones."""
    definitions = ExtendedFieldDefinition.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True), scope=scope
    )
    by_name: dict[str, ExtendedFieldDefinition] = {}
    for definition in definitions:
        if definition.organization_id is not None or definition.name not in by_name:
            by_name[definition.name] = definition
    return by_name


def field_keys(
    *, organization: Organization, column: str, customers: QuerySet | None = None
) -> list[str]:
    """The keys the customers' custom_fields or extended_fields hold, sorted."""
    if column not in ("custom_fields", "extended_fields"):
        raise ValueError(column)
    where, params = "", []
    if customers is not None:
        sql, params = customers.values("pk").query.sql_with_params()
        where = f"AND c.id IN ({sql})"
    if connection.vendor == "postgresql":
        query = (
            f"SELECT DISTINCT jsonb_object_keys(c.{column}) FROM customers_customer c "  # noqa: S608
            f"WHERE c.organization_id = %s {where}"
        )
    else:
        query = (
            f"SELECT DISTINCT j.key FROM customers_customer c, json_each(c.{column}) j "  # noqa: S608
            f"WHERE c.organization_id = %s {where}"
        )
    with connection.cursor() as cursor:
        cursor.execute(query, [organization.pk, *params])
        return sorted(key for (key,) in cursor.fetchall())


# An import batch records one event listing the customers it registered, just after writing
# them: it is found within this time of the customer's registration.
IMPORT_EVENT_WITHIN = dt.timedelta(minutes=10)


def customer_events(customer: Customer) -> QuerySet[AuditEvent]:
    """The customer's change history, newest first."""
    return AuditEvent.objects.filter(customer=customer).order_by("-created_at", "-pk")


def import_event(customer: Customer) -> AuditEvent | None:
    """The event of the import batch that registered the customer, if one did, told as theirs
    (a batch's event lists every customer it registered)."""
    if customer.imported_at is None:
        return None
    batches = AuditEvent.objects.filter(
        organization_id=customer.organization_id,
        customer__isnull=True,
        subject="import",
        created_at__gte=customer.created_at,
        created_at__lte=customer.created_at + IMPORT_EVENT_WITHIN,
    )
    for batch in batches:
        if customer.public_id in (batch.changes.get("customers") or [None, []])[1]:
            batch.changes = {"customer": [None, customer.public_id], "run": batch.changes["run"]}
            return batch
    return None


def by_newest(events: list[AuditEvent]) -> list[AuditEvent]:
    return sorted(events, key=lambda e: (e.created_at, e.pk), reverse=True)
