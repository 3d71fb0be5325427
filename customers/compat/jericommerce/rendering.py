"""Jericommerce's replies: one outcome per batch item, and its error shape."""

from crm.errors import DomainError
from customers.compat.jericommerce.parsing import PAYLOAD_FIELDS
from customers.membership.enrolment import MembershipResult


def error_body(code, message: str, field: str | None) -> dict:
    body = {"error": message, "code": code}
    if field:
        body["field"] = field
    return body


def item_outcome(email, result: MembershipResult) -> dict:
    status = "created" if result.created else "updated" if result.changed else "unchanged"
    return {"email": email, "status": status, "customerId": result.customer.public_id}


def item_refusal(item, error: DomainError) -> dict:
    """Why an item was not written, naming the field as the item sent it."""
    field = PAYLOAD_FIELDS.get(error.field, error.field)
    if error.field == "email" and "email" not in (item.get("payload") or {}):
        field = "email"  # the item's key, as no new email was sent
    return {
        "email": item.get("email") if isinstance(item, dict) else None,
        "status": "error",
        "errors": [{"field": field, "code": str(error.code), "message": error.message}],
    }


def deleted(email: str) -> dict:
    return {"email": email, "deleted": True}
