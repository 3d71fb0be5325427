"""Capillary's replies: registration and update results, the customer, and its error shape."""

from datetime import datetime

from crm.errors import ErrorCode
from customers.membership.enrolment import MembershipResult
from customers.models import Customer
from customers.services.registration import DEFAULT_STATUS_LABEL_NOT_SET, SOURCE_ACCOUNT_ADDED
from loyalty.side_effects import CouponIssued, PointsAwarded

ERROR_CODES = {
    ErrorCode.SOURCE_INVALID: 3217,  # Source is invalid.
    ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE: 8006,  # Customer already exists for same source.
}
WARNING_CODES = {
    DEFAULT_STATUS_LABEL_NOT_SET: 8107,  # Default customer status label not set
    SOURCE_ACCOUNT_ADDED: 8108,  # ours: the identifiers belonged to a customer of another source
}


def error_body(status: int, code, message: str, field: str | None) -> dict:
    """`field` already in Capillary's words."""
    numeric = ERROR_CODES.get(code, code if isinstance(code, int) else status)
    body = {"status": False, "code": numeric, "message": message}
    if field:
        body["field"] = field
    if isinstance(code, str):
        body["reason"] = code
    return {"warnings": [], "errors": [body]}


def side_effects(effects: list, customer: Customer) -> list[dict]:
    """The points and coupons this customer received, as Capillary's `sideEffects`."""
    rendered = []
    for effect in effects:
        if isinstance(effect, PointsAwarded) and effect.customer_id == customer.public_id:
            rendered.append(
                {
                    "entityType": "USER",
                    "rawAwardedPoints": float(effect.points),
                    "awardedPoints": effect.points,
                    "type": "points",
                }
            )
        elif isinstance(effect, CouponIssued):
            rendered.append(
                {
                    "id": effect.coupon_id,
                    "entityType": "USER",
                    "couponType": "PE",
                    "couponCode": effect.code,
                    "validTill": (
                        effect.valid_till.strftime("%Y-%m-%dT%H:%M:%SZ")
                        if effect.valid_till
                        else None
                    ),
                    "description": effect.description,
                    "discountCode": effect.discount_code,
                    "trimmedCouponCode": effect.code,
                    "type": "coupon",
                }
            )
    return rendered


def warnings(result: MembershipResult) -> list[dict]:
    return [
        {"status": False, "code": WARNING_CODES.get(w.code, 8100), "message": w.message}
        for w in result.warnings
    ]


def registered(result: MembershipResult) -> dict:
    return {
        "createdId": result.customer.pk,
        "warnings": warnings(result),
        "sideEffects": side_effects(result.side_effects, result.customer),
    }


def updated(result: MembershipResult, customer: Customer, *, in_background: bool) -> dict:
    return {
        "customerId": customer.pk,
        "warnings": warnings(result),
        "sideEffects": [] if in_background else side_effects(result.side_effects, customer),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def render_customer(document: dict) -> dict:
    """A customer in the shape a registration is sent in, with what the CRM keeps besides."""
    channels = [
        {
            "type": channel["type"],
            "value": channel["value"],
            "primary": channel["primary"],
            "verified": channel["verified"],
            "subscribed": channel["subscribed"],
            "meta": {
                "residence": channel["residence"],
                "office": channel["office"],
                "lastViewedDate": _iso(channel["last_viewed_at"]),
            },
        }
        for channel in document["channels"]
    ]
    profiles = [
        {
            "firstName": account["first_name"] or document["first_name"],
            "lastName": account["last_name"] or document["last_name"],
            "source": account["source"],
            "accountId": account["account_id"],
            "identifiers": [
                {
                    "type": identifier["type"],
                    "value": identifier["value"],
                    **(
                        {"seriesId": identifier["series_id"]}
                        if identifier["series_id"] is not None
                        else {}
                    ),
                    **(
                        {"statusLabel": identifier["status_label"]}
                        if identifier["status_label"]
                        else {}
                    ),
                }
                for identifier in account["identifiers"]
            ],
            # Channels belong to the customer; they are shown with its first profile.
            "commChannels": channels if index == 0 else [],
            "fields": account["custom_fields"],
        }
        for index, account in enumerate(document["source_accounts"])
    ]
    return {
        "id": document["id"],
        "firstName": document["first_name"],
        "lastName": document["last_name"],
        "profiles": profiles,
        "loyaltyInfo": {"loyaltyType": document["loyalty_type"]},
        "extendedFields": document["extended_fields"],
        "fields": document["custom_fields"],
        "statusLabel": document["status_label"],
        "status": document["status"],
        "associatedWith": document["store"],
        "referralCode": document["referral_code"],
        "loyaltyProgramEnrollments": [
            {
                "programId": enrollment["program_id"],
                "programName": enrollment["program_name"],
                "tierNumber": enrollment["tier_number"],
                "tierName": enrollment["tier_name"],
                "tierExpiryDate": _iso(enrollment["tier_expires_at"]),
                "loyaltyPoints": enrollment["points_balance"],
            }
            for enrollment in document["enrollments"]
        ],
        "createdOn": _iso(document["created_at"]),
        "updatedOn": _iso(document["updated_at"]),
    }
