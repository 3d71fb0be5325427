"""The customers a Voucherify reply shows, and the list a ListQuery asks for."""

from django.db.models import Func, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Trim

from customers import selectors
from customers.compat.voucherify.parsing import ListQuery
from customers.models import Customer
from loyalty.models import Coupon, Enrollment


def _count(rows: QuerySet) -> Coalesce:
    """How many of `rows` there are, as a subquery (joins would multiply each other's counts)."""
    counted = rows.order_by().annotate(n=Func("pk", function="COUNT")).values("n")
    return Coalesce(Subquery(counted), 0)


def customers_rendered(organization) -> QuerySet[Customer]:
    """Customers with everything `rendering.render_customer` shows, in a fixed number of queries."""
    return (
        Customer.objects.filter(organization=organization)
        .select_related("referred_by")
        .annotate(
            referred_count=_count(Customer.objects.filter(referred_by=OuterRef("pk"))),
            coupons_redeemed=_count(
                Coupon.objects.filter(customer=OuterRef("pk"), redeemed_at__isnull=False)
            ),
        )
        .prefetch_related(
            Prefetch(
                "enrollments",
                queryset=Enrollment.objects.select_related("program", "tier").order_by("pk"),
            )
        )
    )


def customer_page(organization, query: ListQuery) -> tuple[list[Customer], int]:
    """The page of customers a list asks for, ready to render, and how many match in all."""
    customers = selectors.customers_of(organization)
    filters = Q()
    if query.email is not None:
        filters &= Q(email=query.email)
    if query.city is not None:
        filters &= Q(city__iexact=query.city)
    if query.name is not None:
        customers = customers.annotate(
            full_name=Trim(Concat("first_name", Value(" "), "last_name"))
        )
        filters &= Q(full_name__iexact=query.name)
    for column, lookup, moment in query.bounds:
        filters &= Q(**{f"{column}__{lookup}": moment})
    if query.starting_after is not None:
        filters &= Q(created_at__gt=query.starting_after)
    matching = customers.filter(filters)
    total = matching.count()
    start = (query.page - 1) * query.limit
    page_ids = list(
        matching.order_by(query.order, "pk").values_list("pk", flat=True)[
            start : start + query.limit
        ]
    )
    rows = customers_rendered(organization).in_bulk(page_ids)
    return [rows[pk] for pk in page_ids], total


def customer_by_key(organization, key: str) -> Customer | None:
    """A customer by Voucherify id (our public id) or by source_id (our external id)."""
    if key.startswith("cust_"):
        return selectors.customer_get(organization=organization, public_id=key)
    return Customer.objects.filter(organization=organization, external_id=key).first()
