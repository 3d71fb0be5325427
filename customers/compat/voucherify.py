"""Voucherify's customer API (v1).

    POST   /v1/customers                    create, or update the customer `id` or `source_id` names
    GET    /v1/customers                    list (limit, page, email, city, name, created_at[...],
                                            updated_at[...], order, starting_after)
    GET    /v1/customers/{id or source_id}
    PUT    /v1/customers/{id or source_id}
    DELETE /v1/customers/{id or source_id}

Authentication: `X-App-Id` is the organization's slug, `X-App-Token` one of its API keys.
Mapping and what is not supported: docs/compat/voucherify.md.
"""

import datetime as dt
from math import ceil
from typing import Any

from django.db.models import Func, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Trim
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response

from crm.api.authentication import client_for_key
from crm.errors import DomainError, ErrorCode
from crm.parsing import MAX_BIGINT, in_utc, parse_date, parse_datetime, parse_integer
from customers import selectors
from customers.inputs import UNSET, CustomerInput
from customers.membership.update import customer_update
from customers.membership.upsert import customer_upsert
from customers.models import Customer
from customers.services.update import customer_delete
from loyalty.models import Coupon, Enrollment

from .base import VendorView

MAX_LIMIT = 100
MAX_PAGE = MAX_BIGINT // MAX_LIMIT  # the page's offset is a 64-bit integer in SQL
DEFAULT_LIMIT = 10
ORDERS = {"created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id"}
ADDRESS_FIELDS = {
    "line_1": "address_line1",
    "line_2": "address_line2",
    "city": "city",
    "state": "state",
    "postal_code": "postal_code",
    "country": "country",
}
FIELD_NAMES = {
    "external_id": "source_id",
    "birthday": "birthdate",
    "custom_fields": "metadata",
    "first_name": "name",
    "last_name": "name",
    **{ours: f"address.{theirs}" for theirs, ours in ADDRESS_FIELDS.items()},
}


class AppKeys(BaseAuthentication):
    """X-App-Id (the organization's slug) with X-App-Token (one of its API keys)."""

    def authenticate(self, request):
        app_id = request.headers.get("X-App-Id", "")
        token = request.headers.get("X-App-Token", "")
        if not app_id and not token:
            return None
        client, api_key = client_for_key(token)
        if client.organization.slug != app_id:
            raise AuthenticationFailed("The X-App-Id does not match the X-App-Token.")
        return client, api_key

    def authenticate_header(self, request):
        return "X-App-Token"


def _text(body: dict, name: str) -> str | None:
    value = body[name]
    if value is not None and not isinstance(value, str):
        raise DomainError(ErrorCode.INVALID, "Expected a string.", field=name)
    return value


def customer_input(body: Any) -> CustomerInput:
    if not isinstance(body, dict):
        raise DomainError(ErrorCode.INVALID, "Send a customer object.", field="")
    data = CustomerInput()
    if "name" in body:
        name = (_text(body, "name") or "").strip()
        first, _, last = name.partition(" ")
        data.first_name, data.last_name = first[:100], last.strip()[:100]
    if "source_id" in body:
        data.external_id = _text(body, "source_id") or None
    for theirs, ours in (("email", "email"), ("phone", "phone")):
        if theirs in body:
            setattr(data, ours, _text(body, theirs) or None)
    if "description" in body:
        data.description = _text(body, "description") or ""
    birthdate = body.get("birthdate", body.get("birthday", UNSET))
    if birthdate is not UNSET:
        field = "birthdate" if "birthdate" in body else "birthday"
        data.birthday = None if birthdate is None else parse_date(birthdate, field=field)
    if "address" in body:
        address = body["address"] or {}
        if not isinstance(address, dict):
            raise DomainError(ErrorCode.INVALID, "Expected an object.", field="address")
        for theirs, ours in ADDRESS_FIELDS.items():
            if theirs in address or body["address"] is None:
                value = address.get(theirs)
                if value is not None and not isinstance(value, str):
                    raise DomainError(
                        ErrorCode.INVALID, "Expected a string.", field=f"address.{theirs}"
                    )
                setattr(data, ours, value or "")
    if "metadata" in body:
        metadata = body["metadata"]
        if metadata is not None and not isinstance(metadata, dict):
            raise DomainError(ErrorCode.INVALID, "Expected an object.", field="metadata")
        data.custom_fields = metadata or {}
    return data


def _count(rows: QuerySet) -> Coalesce:
    """How many of `rows` there are, as a subquery (joins would multiply each other's counts)."""
    counted = rows.order_by().annotate(n=Func("pk", function="COUNT")).values("n")
    return Coalesce(Subquery(counted), 0)


def customers_rendered(organization) -> QuerySet[Customer]:
    """Customers with everything `render` shows, in a fixed number of queries."""
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


def _iso(value: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as Voucherify writes it."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render(customer: Customer) -> dict:
    enrollments = list(customer.enrollments.all())
    address = {theirs: getattr(customer, ours) for theirs, ours in ADDRESS_FIELDS.items()}
    name = f"{customer.first_name} {customer.last_name}".strip()
    optional = {
        "source_id": customer.external_id,
        "name": name or None,
        "description": customer.description or None,
        "email": customer.email,
        "phone": customer.phone,
        "birthdate": customer.birthday.isoformat() if customer.birthday else None,
    }
    referrer = customer.referred_by
    return {
        "id": customer.public_id,
        **{key: value for key, value in optional.items() if value is not None},
        "address": address if any(address.values()) else None,
        "summary": {
            "redemptions": {
                "total_redeemed": customer.coupons_redeemed,
                "total_failed": 0,
                "total_succeeded": customer.coupons_redeemed,
                "total_rolled_back": 0,
                "total_rollback_failed": 0,
                "total_rollback_succeeded": 0,
                "gift": {"redeemed_amount": 0, "amount_to_go": 0},
                "loyalty_card": {
                    "redeemed_points": sum(e.points_earned - e.points_balance for e in enrollments),
                    "points_to_go": sum(e.points_balance for e in enrollments),
                },
            },
            "orders": {
                "total_amount": 0,
                "total_count": 0,
                "average_amount": 0,
                "last_order_amount": 0,
            },
        },
        "loyalty": {
            "points": sum(e.points_balance for e in enrollments),
            "referred_customers": customer.referred_count,
            "campaigns": {
                e.program.name: {
                    "points": e.points_balance,
                    **({"loyalty_tier": e.tier.name} if e.tier else {}),
                    "referred_customers": 0,
                }
                for e in enrollments
            },
        },
        "referrals": {
            "total": 1 if referrer else 0,
            "campaigns": (
                [
                    {
                        "campaign_id": "referral",
                        "referrer_id": referrer.public_id,
                        "related_object_id": customer.public_id,
                        "related_object_type": "customer",
                        "date": _iso(customer.created_at),
                    }
                ]
                if referrer
                else []
            ),
        },
        "metadata": customer.custom_fields,
        "system_metadata": {},
        "created_at": _iso(customer.created_at),
        "updated_at": _iso(customer.updated_at),
        "object": "customer",
    }


class VoucherifyView(VendorView):
    authentication_classes = [AppKeys]

    def error(self, status, code, message, field=None):
        keys = {401: "unauthorized", 404: "not_found", 429: "too_many_requests", 500: "error"}
        key = code if isinstance(code, str) else keys.get(code, "error")
        field = FIELD_NAMES.get(field, field) if field else field
        body = {
            "code": status,
            "key": key,
            "message": message,
            "details": f"{field}: {message}" if field else message,
            "request_id": self.request.request_id,
        }
        if status == 404:
            body["resource_type"] = "customer"
        return Response(body, status=status)

    def rendered(self, customer: Customer) -> dict:
        return render(customers_rendered(self.organization).get(pk=customer.pk))

    def find(self, key: str) -> Customer:
        """A customer by Voucherify id (our public id) or by source_id (our external id)."""
        if key.startswith("cust_"):
            customer = selectors.customer_get(organization=self.organization, public_id=key)
        else:
            customer = Customer.objects.filter(
                organization=self.organization, external_id=key
            ).first()
        if customer is None:
            raise DomainError(
                ErrorCode.NOT_FOUND, f"Cannot find customer with id {key}", field=None
            )
        return customer


class CustomersView(VoucherifyView):
    def post(self, request):
        data = customer_input(request.data)
        customer_id = request.data.get("id")
        if customer_id:  # an id wins over a source_id
            data.external_id = UNSET
            result = customer_update(
                customer=self.find(str(customer_id)), data=data, actor=self.actor
            )
        else:
            result = customer_upsert(
                organization=self.organization,
                data=data,
                match_by={"external_id": data.external_id or None},  # by source_id alone
                actor=self.actor,
            )
        return Response(self.rendered(result.customer))

    def get(self, request):
        params = request.query_params
        limit = self.number(params, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        page = self.number(params, "page", 1, MAX_PAGE)
        customers = selectors.customers_of(self.organization)
        filters = Q()
        if params.get("email"):
            filters &= Q(email=params["email"].strip().lower())
        if params.get("city"):
            filters &= Q(city__iexact=params["city"])
        if params.get("name"):
            customers = customers.annotate(
                full_name=Trim(Concat("first_name", Value(" "), "last_name"))
            )
            filters &= Q(full_name__iexact=params["name"].strip())
        for name in ("created_at", "updated_at"):
            for bound, lookup in (("before", "lt"), ("after", "gt")):
                key = f"{name}[{bound}]"
                if params.get(key):
                    filters &= Q(**{f"{name}__{lookup}": self.moment(params, key)})
        if params.get("starting_after"):
            filters &= Q(created_at__gt=self.moment(params, "starting_after"))
        order = params.get("order") or "-created_at"
        if order not in ORDERS:
            raise DomainError(
                ErrorCode.INVALID, f"order is one of {', '.join(sorted(ORDERS))}.", field="order"
            )
        column = order.replace("source_id", "external_id")
        matching = customers.filter(filters)
        total = matching.count()
        page_ids = list(
            matching.order_by(column, "pk").values_list("pk", flat=True)[
                (page - 1) * limit : page * limit
            ]
        )
        rows = customers_rendered(self.organization).in_bulk(page_ids)
        return Response(
            {
                "object": "list",
                "data_ref": "customers",
                "customers": [render(rows[pk]) for pk in page_ids],
                "total": total,
                "has_more": page < ceil(total / limit),
            }
        )

    @staticmethod
    def number(params, name: str, default: int, maximum: int) -> int:
        value = params.get(name)
        if value in (None, ""):
            return default
        return parse_integer(value, field=name, minimum=1, maximum=maximum)

    @staticmethod
    def moment(params, name: str) -> dt.datetime:
        """An ISO 8601 date-time, or a date (its midnight); UTC unless it names its zone."""
        return in_utc(parse_datetime(params[name], field=name, naive_is_utc=True), name)


class CustomerView(VoucherifyView):
    def get(self, request, key: str):
        return Response(self.rendered(self.find(key)))

    def put(self, request, key: str):
        customer = self.find(key)
        data = customer_input(request.data)
        result = customer_update(customer=customer, data=data, actor=self.actor)
        return Response(self.rendered(result.customer))

    def delete(self, request, key: str):
        customer_delete(customer=self.find(key), actor=self.actor)
        return Response(status=204)
