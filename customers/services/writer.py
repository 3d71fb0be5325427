"""The one set-wise writer of new customers, for the API's batch upsert and for imports: a run
of new customers, with their source accounts, identifiers and channels, in a few statements
for all of them, and the keys by which a new customer could collide with another.
"""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model, Q
from django.utils import timezone

from crm.actors import Actor
from crm.models import Organization
from customers import audit
from customers.inputs import ChannelInput
from customers.models import (
    AuditEvent,
    CommChannel,
    Customer,
    Identifier,
    ImportRun,
    SourceAccount,
)
from customers.services.channels import new_channel
from customers.services.registration import (
    CustomerResult,
    created_event,
    customer_values_held,
    default_status_label,
    new_account,
    new_customer,
    new_identifiers,
    unused_referral_codes,
)
from customers.validation import CANONICAL_FIELD_BY_IDENTIFIER, TAKEN_CODES, CleanAccount


@dataclass
class NewCustomer:
    """A customer to register with nothing but rows of its own: its cleaned profile, source
    accounts and channels."""

    profile: dict[str, Any]
    accounts: list[CleanAccount]
    channels: list[ChannelInput]


@dataclass(frozen=True)
class ImportStamp:
    """What an import records on the customers it writes: its run, and for each customer the
    digest of the record that wrote it."""

    run: ImportRun | None
    digests: list[str]


def collision_keys(new: NewCustomer) -> set[tuple]:
    """Every value by which another customer could collide with this one."""
    keys = {(name, new.profile.get(name)) for name in TAKEN_CODES}
    # Its own email, phone and external id are matched by identifiers of those types too.
    keys |= {
        ("identifier", identifier_type, new.profile.get(name))
        for identifier_type, name in CANONICAL_FIELD_BY_IDENTIFIER.items()
    }
    keys |= {
        ("identifier", identifier.type, identifier.value)
        for account in new.accounts
        for identifier in account.identifiers
    }
    return {key for key in keys if key[-1]}


def keys_held(organization: Organization, wanted: set[tuple]) -> set[tuple]:
    """Those of the keys (as collision_keys gives them) that existing customers hold: a few
    queries, each by index (a customer's own email, phone and external id also match
    identifiers of those types)."""
    own: dict[str, set[str]] = {name: set() for name in TAKEN_CODES}
    by_type: dict[str, set[str]] = {}
    for key in wanted:
        if key[0] == "identifier":
            by_type.setdefault(key[1], set()).add(key[2])
            name = CANONICAL_FIELD_BY_IDENTIFIER.get(key[1])
            if name:
                own[name].add(key[2])
        else:
            own[key[0]].add(key[1])
    taken = customer_values_held(organization, own)
    for identifier_type, name in CANONICAL_FIELD_BY_IDENTIFIER.items():
        taken |= {("identifier", identifier_type, key[1]) for key in taken if key[0] == name}
    taken |= {
        ("identifier", type_, value)
        for type_, value in _identifier_values_held(organization, by_type)
    }
    return taken


def _identifier_values_held(
    organization: Organization, wanted: dict[str, set[str]]
) -> set[tuple[str, str]]:
    """(type, value) for each of the values, by identifier type, that an identifier has."""
    wanted = {type_: values for type_, values in wanted.items() if values}
    if not wanted:
        return set()
    if connection.vendor == "postgresql":
        selects, params = [], []
        for type_, values in wanted.items():
            selects.append(
                "SELECT %s, i.value FROM unnest(%s::text[]) AS u(v), LATERAL (SELECT value "
                "FROM customers_identifier WHERE organization_id = %s AND type = %s "
                "AND value = u.v LIMIT 1) AS i"
            )
            params += [type_, list(values), organization.pk, type_]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            return set(cursor.fetchall())
    lookups = Q(pk__in=[])
    for type_, values in wanted.items():  # by type: the lookup index starts with it
        lookups |= Q(type=type_, value__in=values)
    return set(
        Identifier.objects.filter(lookups, organization=organization).values_list("type", "value")
    )


def new_customers_write(
    organization: Organization,
    new: list[NewCustomer],
    *,
    actor: Actor,
    imported: ImportStamp | None = None,
) -> list[CustomerResult]:
    """Register the new customers, which collide with no customer nor each other, in a few
    statements for all of them; call inside a transaction. An IntegrityError means a
    concurrent writer took one of their keys meanwhile.

    Each customer's registration is on record as customer_register records it; the customers
    of an import are stamped with their records' digests and its run instead, and one event
    lists them all.
    """
    default_label = default_status_label(organization)
    codes = unused_referral_codes(organization, len(new))
    results = []
    for candidate, code in zip(new, codes, strict=True):
        customer, warnings = new_customer(organization, candidate.profile, None, default_label)
        customer.referral_code = code
        results.append(CustomerResult(customer=customer, created=True, warnings=warnings))
    customers = [result.customer for result in results]
    if imported is None:
        _insert(new, customers)
        AuditEvent.objects.bulk_create(
            audit.event(
                customer,
                **created_event(
                    customer, candidate.profile, candidate.accounts, actor, candidate.channels
                ),
            )
            for candidate, customer in zip(new, customers, strict=True)
        )
        return results
    now = timezone.now()
    for customer, digest in zip(customers, imported.digests, strict=True):
        customer.import_digest = digest
        customer.import_run = imported.run
        customer.created_at = customer.updated_at = customer.imported_at = now
    if connection.vendor == "postgresql":
        _copy_all(new, customers, now)
    else:
        _insert(new, customers)
        # bulk_create stamps each row with its own time; an import's are its batch's.
        Customer.objects.filter(pk__in=[c.pk for c in customers]).update(
            created_at=now, updated_at=now, imported_at=now
        )
    AuditEvent.objects.create(
        organization=organization,
        customer=None,
        customer_public_id="",
        subject="import",
        action="created",
        changes={
            "customers": [None, [customer.public_id for customer in customers]],
            "run": [None, imported.run and imported.run.pk],
        },
        actor=str(actor),
        actor_context=actor.context,
    )
    return results


def _insert(new: list[NewCustomer], customers: list[Customer]) -> None:
    Customer.objects.bulk_create(customers)
    accounts = [
        (new_account(customer, account), account)
        for candidate, customer in zip(new, customers, strict=True)
        for account in candidate.accounts
    ]
    SourceAccount.objects.bulk_create([source_account for source_account, _ in accounts])
    Identifier.objects.bulk_create(
        identifier
        for source_account, account in accounts
        for identifier in new_identifiers(source_account, account)
    )
    CommChannel.objects.bulk_create(
        new_channel(customer, channel)
        for candidate, customer in zip(new, customers, strict=True)
        for channel in candidate.channels
    )


def _copy_all(new: list[NewCustomer], customers: list[Customer], now: dt.datetime) -> None:
    """_insert by COPY, for an import's large batches: ids reserved from the tables'
    sequences first, so that each row names its customer and source account."""
    ids = _reserve_ids(
        {
            "customers_customer": len(customers),
            "customers_sourceaccount": sum(len(candidate.accounts) for candidate in new),
            "customers_identifier": sum(
                len(account.identifiers) for candidate in new for account in candidate.accounts
            ),
            "customers_commchannel": sum(len(candidate.channels) for candidate in new),
        }
    )
    for customer, pk in zip(customers, ids["customers_customer"], strict=True):
        customer.pk = pk
    accounts = [
        (new_account(customer, account), account)
        for candidate, customer in zip(new, customers, strict=True)
        for account in candidate.accounts
    ]
    for (source_account, _), pk in zip(accounts, ids["customers_sourceaccount"], strict=True):
        source_account.pk, source_account.created_at = pk, now
    identifiers = [
        identifier
        for source_account, account in accounts
        for identifier in new_identifiers(source_account, account)
    ]
    for identifier, pk in zip(identifiers, ids["customers_identifier"], strict=True):
        identifier.pk, identifier.created_at = pk, now
    channels = [
        new_channel(customer, channel)
        for candidate, customer in zip(new, customers, strict=True)
        for channel in candidate.channels
    ]
    for channel, pk in zip(channels, ids["customers_commchannel"], strict=True):
        channel.pk = pk
        channel.created_at = channel.updated_at = now
    _copy("customers_customer", CUSTOMER_COLUMNS, customers)
    _copy("customers_sourceaccount", ACCOUNT_COLUMNS, [a for a, _ in accounts])
    _copy("customers_identifier", IDENTIFIER_COLUMNS, identifiers)
    _copy("customers_commchannel", CHANNEL_COLUMNS, channels)


CUSTOMER_COLUMNS = (
    "id",
    "organization_id",
    "public_id",
    "first_name",
    "last_name",
    "email",
    "email_verified",
    "phone",
    "birthday",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "country",
    "description",
    "external_id",
    "loyalty_type",
    "status",
    "status_label_id",
    "custom_fields",
    "extended_fields",
    "registered_store_id",
    "referral_code",
    "created_at",
    "updated_at",
    "import_digest",
    "imported_at",
    "import_run_id",
)
ACCOUNT_COLUMNS = (
    "id",
    "customer_id",
    "source",
    "account_id",
    "first_name",
    "last_name",
    "custom_fields",
    "created_at",
)
IDENTIFIER_COLUMNS = (
    "id",
    "organization_id",
    "customer_id",
    "source_account_id",
    "source",
    "account_id",
    "type",
    "value",
    "series_id",
    "status_label",
    "extended_fields",
    "created_at",
)
CHANNEL_COLUMNS = (
    "id",
    "customer_id",
    "type",
    "value",
    "primary",
    "verified",
    "subscribed",
    "residence",
    "office",
    "last_viewed_at",
    "created_at",
    "updated_at",
)


def _reserve_ids(counts: dict[str, int]) -> dict[str, list[int]]:
    """Ids from each table's sequence, in one round trip."""
    wanted = {table: count for table, count in counts.items() if count}
    ids: dict[str, list[int]] = {table: [] for table in counts}
    if not wanted:
        return ids
    selects = " UNION ALL ".join(
        "SELECT %s, nextval(%s::regclass) FROM generate_series(1, %s)" for _ in wanted
    )
    params: list = []
    for table, count in wanted.items():
        params += [table, _sequence(table), count]
    with connection.cursor() as cursor:
        cursor.execute(selects, params)
        for table, value in cursor.fetchall():
            ids[table].append(value)
    return ids


_SEQUENCES: dict[str, str] = {}


def _sequence(table: str) -> str:
    if table not in _SEQUENCES:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            _SEQUENCES[table] = cursor.fetchone()[0]
    return _SEQUENCES[table]


def _copy(table: str, columns: tuple[str, ...], rows: list[Model]) -> None:
    if not rows:
        return
    names = ", ".join(f'"{column}"' for column in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    json.dumps(value) if isinstance(value, dict) else value
                    for value in (getattr(row, column) for column in columns)
                ]
            )
