"""Finding customers by what they are known by: their own fields, identifiers and card codes."""

import re

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet

from crm.models import Organization
from customers.models import Customer, Identifier
from customers.normalization import phone_or_none
from loyalty.models import CustomerCard

SEARCH_TERMS = 5
PHONE_LIKE = re.compile(r"^[+(]?\d[\d().-]*$")


def customer_search(
    queryset: QuerySet[Customer], *, organization: Organization | None, text: str
) -> QuerySet[Customer]:
    """Customers matching every word of `text` in their name, email, phone, an identifier value
    or a card code (in `organization`; None, for superusers: in every organization); and, in an
    organization, the customer whose external id is `text` or whose phone is `text` read as a
    phone number in the organization's region (`098735 67294` finds +919873567294 in India).

    The longest word (likely the rarest) finds the candidates: a UNION of three lookups that
    trigram indexes serve on PostgreSQL (on the very expressions used here), so a rare fragment is
    found without scanning the table. The other words only filter those candidates.

    On PostgreSQL the customers are then read as `id = ANY(ARRAY(candidates))`, not
    `id IN (candidates)`: the candidates are found first, once, and their rows read by primary
    key. With `IN`, the planner chooses a join from its estimate of the candidates, and from a
    few thousand of them (a common fragment) hashes them against a scan of every customer: at
    1,000,000 customers, 390 ms where reading 11,000 candidates by key took 65 ms, and twice on
    an admin page (its count and its rows; bench/admin_bench.py).
    """
    terms = sorted(text.split()[:SEARCH_TERMS], key=len, reverse=True)
    if not terms:
        return queryset
    driving, *others = terms
    tenant = {} if organization is None else {"organization": organization}
    exact = _exact_match(text.strip(), organization)
    # The exact match is a branch of its own, as each lookup is, so that each is served by its
    # own index and none depends on the planner combining them.
    candidates = (
        Customer.objects.filter(_own_fields_match(driving), **tenant)
        .values("pk")
        .union(
            Customer.objects.filter(exact, **tenant).order_by().values("pk"),
            Identifier.objects.filter(value__icontains=driving, **tenant)
            .order_by()
            .values("customer_id"),
            CustomerCard.objects.filter(code__contains=driving.upper(), **tenant)
            .order_by()
            .values("customer_id"),
        )
    )
    if connection.vendor == "postgresql":
        queryset = queryset.filter(
            Func(
                F("pk"),
                ArraySubquery(candidates),
                arg_joiner=" = ANY(",
                template="%(expressions)s)",
                output_field=BooleanField(),
            )
        )
    else:
        queryset = queryset.filter(pk__in=candidates)
    for term in others:
        queryset = queryset.filter(
            _own_fields_match(term)
            | exact
            | Exists(Identifier.objects.filter(customer=OuterRef("pk"), value__icontains=term))
            | Exists(
                CustomerCard.objects.filter(customer=OuterRef("pk"), code__contains=term.upper())
            )
        )
    return queryset


def _own_fields_match(term: str) -> Q:
    match = Q(first_name__icontains=term) | Q(last_name__icontains=term)
    match |= Q(email__icontains=term)
    if PHONE_LIKE.match(term):
        match |= Q(phone__contains=re.sub(r"\D", "", term))
    return match


def _exact_match(text: str, organization: Organization | None) -> Q:
    """The customer known by exactly `text`, a whole (the words of a phone number written with
    spaces are not fragments). Only in an organization: its unique indexes on (organization,
    external_id) and (organization, phone) serve these, where a search of every organization
    would read every customer."""
    if organization is None:
        return Q(pk__in=[])
    match = Q(external_id=text)
    phone = phone_or_none(text, region=organization.default_region)
    if phone is not None:
        match |= Q(phone=phone)
    return match
