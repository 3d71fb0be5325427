"""Voucherify's replies: the customer object, its list, and its error shape."""

import datetime as dt

from customers.compat.voucherify.parsing import ADDRESS_FIELDS, FIELD_NAMES
from customers.models import Customer

ERROR_KEYS = {401: "unauthorized", 404: "not_found", 429: "too_many_requests", 500: "error"}


def _iso(value: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as Voucherify writes it."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_customer(customer: Customer) -> dict:
    """A customer as Voucherify's customer object; `customer` comes from customers_rendered."""
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
                    "redeemed_points": sum(
                        e.points_earned - e.points_balance - e.points_pending for e in enrollments
                    ),
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


def render_list(customers: list[Customer], total: int, has_more: bool) -> dict:
    return {
        "object": "list",
        "data_ref": "customers",
        "customers": [render_customer(row) for row in customers],
        "total": total,
        "has_more": has_more,
    }


def error_body(status: int, code, message: str, field: str | None, request_id) -> dict:
    key = code if isinstance(code, str) else ERROR_KEYS.get(code, "error")
    field = FIELD_NAMES.get(field, field) if field else field
    body = {
        "code": status,
        "key": key,
        "message": message,
        "details": f"{field}: {message}" if field else message,
        "request_id": request_id,
    }
    if status == 404:
        body["resource_type"] = "customer"
    return body
