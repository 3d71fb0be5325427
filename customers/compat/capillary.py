"""Capillary's customer API (v2): register, update and read customers.

    POST /v2/customers                      register (profiles per source, enrolments, …)
    PUT  /v2/customers/{customerId}         update, also as PUT /v2/customers?customerId=…
    GET  /v2/customers/{customerId}

Authentication: HTTP Basic (any user name, the API key as password) or a Bearer key. The
USER-CONTEXT-ENTITY-* headers are recorded with every change. Mapping: docs/compat/capillary.md.
"""

import re
from datetime import datetime
from typing import Any

from rest_framework.response import Response

from crm.errors import DomainError, ErrorCode
from crm.parsing import parse_boolean, parse_datetime
from customers import selectors
from customers.inputs import (
    UNSET,
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from customers.membership.documents import customer_document
from customers.membership.enrolment import MembershipResult
from customers.membership.registration import customer_register
from customers.membership.update import customer_update
from customers.models import MULTI_ACCOUNT_SOURCES, Customer
from customers.services.registration import DEFAULT_STATUS_LABEL_NOT_SET, SOURCE_ACCOUNT_ADDED
from loyalty.side_effects import CouponIssued, PointsAwarded

from .base import BasicPasswordKey, BearerKey, VendorView, path_id

NAME_LIMIT = 100  # longer names are cut, as Capillary does
ERROR_CODES = {
    ErrorCode.SOURCE_INVALID: 3217,  # Source is invalid.
    ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE: 8006,  # Customer already exists for same source.
}
WARNING_CODES = {
    DEFAULT_STATUS_LABEL_NOT_SET: 8107,  # Default customer status label not set
    SOURCE_ACCOUNT_ADDED: 8108,  # ours: the identifiers belonged to a customer of another source
}


def _bad(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field=field)


def _when(value: Any, field: str) -> datetime | None:
    """YYYY-MM-DDTHH:MM:SS+HH:MM; blank is none."""
    if value in (None, ""):
        return None
    return parse_datetime(value, field=field)


def _object(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(field, "Expected an object.")
    return value


def _list(value: Any, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(field, "Expected a list.")
    return value


def _name(value: Any) -> str:
    return value[:NAME_LIMIT] if isinstance(value, str) else ""


class Parsed:
    """A request body as service inputs, and how to say a service's field in Capillary's words."""

    def __init__(self) -> None:
        self.channel_paths: list[str] = []

    def vendor_field(self, field: str | None) -> str | None:
        if not field:
            return field
        match = re.match(r"channels\[(\d+)\](.*)", field)
        if match and int(match[1]) < len(self.channel_paths):
            field = self.channel_paths[int(match[1])] + match[2]
        for ours, theirs in FIELD_NAMES:
            field = re.sub(ours, theirs, field)
        return field

    def identifiers(self, items: list, path: str) -> list[IdentifierInput]:
        return [
            IdentifierInput(
                type=item.get("type"),
                value=item.get("value"),
                series_id=item.get("seriesId"),
                status_label=item.get("statusLabel") or "",
                extended_fields=_object(item.get("extendedFields"), f"{path}[{j}].extendedFields"),
            )
            for j, item in enumerate(_list(items, path))
            if isinstance(item, dict) or _bad(f"{path}[{j}]", "Expected an object.")
        ]

    def channels(self, items: list, path: str) -> list[ChannelInput]:
        channels = []
        for j, item in enumerate(_list(items, path)):
            at = f"{path}[{j}]"
            item = _object(item, at)
            meta = _object(item.get("meta"), f"{at}.meta")
            channels.append(
                ChannelInput(
                    type=item.get("type"),
                    value=item.get("value"),
                    primary=parse_boolean(item.get("primary", False), field=f"{at}.primary"),
                    verified=parse_boolean(item.get("verified", False), field=f"{at}.verified"),
                    subscribed=parse_boolean(
                        item.get("subscribed", True), field=f"{at}.subscribed"
                    ),
                    residence=parse_boolean(
                        meta.get("residence", False), field=f"{at}.meta.residence"
                    ),
                    office=parse_boolean(meta.get("office", False), field=f"{at}.meta.office"),
                    last_viewed_at=_when(meta.get("lastViewedDate"), f"{at}.meta.lastViewedDate"),
                )
            )
            self.channel_paths.append(at)
        return channels

    def enrollments(self, items: list) -> list[EnrollmentInput]:
        enrollments = []
        for i, item in enumerate(_list(items, "loyaltyProgramEnrollments")):
            at = f"loyaltyProgramEnrollments[{i}]"
            item = _object(item, at)
            enrollments.append(
                EnrollmentInput(
                    program_id=item.get("programId"),
                    tier_number=item.get("tierNumber"),
                    points=item.get("loyaltyPoints") or 0,
                    tier_expires_at=_when(item.get("tierExpiryDate"), f"{at}.tierExpiryDate"),
                    points_expire_at=_when(item.get("pointsExpiryDate"), f"{at}.pointsExpiryDate"),
                )
            )
        return enrollments

    def common(self, body: dict, data: CustomerInput, profiles: list) -> None:
        """What registration and update share: names, fields, channels, enrolments, status."""
        custom_fields: dict = {}
        for i, profile in enumerate(profiles):
            custom_fields |= _object(profile.get("fields"), f"profiles[{i}].fields")
            data.channels += self.channels(
                profile.get("commChannels"), f"profiles[{i}].commChannels"
            )
        if profiles:
            first = profiles[0]
            data.first_name = _name(first.get("firstName", first.get("Firstname")))
            data.last_name = _name(first.get("lastName", first.get("Lastname")))
        if custom_fields:
            data.custom_fields = custom_fields
        if body.get("extendedFields"):
            data.extended_fields = _object(body["extendedFields"], "extendedFields")
        data.enrollments = self.enrollments(body.get("loyaltyProgramEnrollments"))
        loyalty_type = _object(body.get("loyaltyInfo"), "loyaltyInfo").get(
            "loyaltyType", body.get("loyaltyType")
        )
        if loyalty_type:
            data.loyalty_type = loyalty_type
        if body.get("statusLabel"):
            data.status_label = body["statusLabel"]

    def registration(self, body: Any) -> CustomerInput:
        body = _object(body, "")
        profiles = [
            _object(profile, f"profiles[{i}]")
            for i, profile in enumerate(_list(body.get("profiles"), "profiles"))
        ]
        if not profiles:
            raise DomainError(
                ErrorCode.REQUIRED, "At least one profile is required.", field="profiles"
            )
        data = CustomerInput(
            referral_code=body.get("referralCode") or "",
            store_code=body.get("associatedWith") or UNSET,
            source_accounts=[
                SourceAccountInput(
                    source=profile.get("source"),
                    account_id=profile.get("accountId") or "",
                    first_name=_name(profile.get("firstName")),
                    last_name=_name(profile.get("lastName")),
                    custom_fields=_object(profile.get("fields"), f"profiles[{i}].fields"),
                    identifiers=self.identifiers(
                        profile.get("identifiers"), f"profiles[{i}].identifiers"
                    ),
                )
                for i, profile in enumerate(profiles)
            ],
        )
        self.common(body, data, profiles)
        return data

    def changes(self, body: Any, source: str, account_id: str) -> CustomerInput:
        body = _object(body, "")
        profiles = [
            _object(profile, f"profiles[{i}]")
            for i, profile in enumerate(_list(body.get("profiles"), "profiles"))
        ]
        for i, profile in enumerate(profiles):
            if profile.get("identifiers"):
                raise DomainError(
                    ErrorCode.IDENTIFIER_IMMUTABLE,
                    "Identifiers cannot be changed by a customer update.",
                    field=f"profiles[{i}].identifiers",
                )
            if profile.get("source") and str(profile["source"]).upper() != source:
                raise DomainError(
                    ErrorCode.IDENTIFIER_IMMUTABLE,
                    "The source of a customer cannot be changed.",
                    field=f"profiles[{i}].source",
                )
            if profile.get("accountId") and profile["accountId"] != account_id:
                raise DomainError(
                    ErrorCode.IDENTIFIER_IMMUTABLE,
                    "The account of a customer cannot be changed.",
                    field=f"profiles[{i}].accountId",
                )
        data = CustomerInput()
        self.common(body, data, profiles)
        return data


FIELD_NAMES = [
    (r"^source_accounts\[(\d+)\]\.account_id", r"profiles[\1].accountId"),
    (r"^source_accounts\[(\d+)\]\.first_name", r"profiles[\1].firstName"),
    (r"^source_accounts\[(\d+)\]\.last_name", r"profiles[\1].lastName"),
    (r"^source_accounts\[(\d+)\]\.custom_fields", r"profiles[\1].fields"),
    (r"^source_accounts", "profiles"),
    (r"\.series_id$", ".seriesId"),
    (r"\.last_viewed_at$", ".meta.lastViewedDate"),
    (r"\.status_label$", ".statusLabel"),
    (r"\.extended_fields$", ".extendedFields"),
    (r"^extended_fields", "extendedFields"),
    (r"^custom_fields", "profiles[0].fields"),
    (r"^enrollments\[(\d+)\]\.program(_id)?$", r"loyaltyProgramEnrollments[\1].programId"),
    (r"^enrollments\[(\d+)\]\.tier_number$", r"loyaltyProgramEnrollments[\1].tierNumber"),
    (r"^enrollments\[(\d+)\]\.points$", r"loyaltyProgramEnrollments[\1].loyaltyPoints"),
    (r"^enrollments\[(\d+)\]\.tier_expires_at$", r"loyaltyProgramEnrollments[\1].tierExpiryDate"),
    (
        r"^enrollments\[(\d+)\]\.points_expire_at$",
        r"loyaltyProgramEnrollments[\1].pointsExpiryDate",
    ),
    (r"^enrollments", "loyaltyProgramEnrollments"),
    (r"^status_label$", "statusLabel"),
    (r"^store_code$", "associatedWith"),
    (r"^loyalty_type$", "loyaltyInfo.loyaltyType"),
    (r"^referral_code$", "referralCode"),
    (r"^first_name$", "profiles[0].firstName"),
    (r"^last_name$", "profiles[0].lastName"),
    (r"^(email|phone)$", r"profiles[0].identifiers"),
]


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


class CustomersView(VendorView):
    authentication_classes = [BasicPasswordKey, BearerKey]

    def error(self, status, code, message, field=None):
        numeric = ERROR_CODES.get(code, code if isinstance(code, int) else status)
        body = {"status": False, "code": numeric, "message": message}
        if field:
            body["field"] = self.parsed.vendor_field(field) if hasattr(self, "parsed") else field
        if isinstance(code, str):
            body["reason"] = code
        return Response({"warnings": [], "errors": [body]}, status=status)

    def customer(self, customer_id: str | None) -> Customer:
        pk = path_id(customer_id or "", field="customerId", message="Customer not found.")
        customer = selectors.customer_get(organization=self.organization, pk=pk)
        if customer is None:
            raise DomainError(ErrorCode.NOT_FOUND, "Customer not found.", field="customerId")
        return customer

    def post(self, request, customer_id=None):
        if customer_id is not None:
            return self.error(405, 405, "Register customers with POST /v2/customers.")
        self.parsed = Parsed()
        result = customer_register(
            organization=self.organization,
            data=self.parsed.registration(request.data),
            actor=self.actor,
        )
        return Response(
            {
                "createdId": result.customer.pk,
                "warnings": warnings(result),
                "sideEffects": side_effects(result.side_effects, result.customer),
            }
        )

    def put(self, request, customer_id=None):
        customer = self.customer(customer_id or request.query_params.get("customerId"))
        source = (request.query_params.get("source") or "").upper()
        account_id = request.query_params.get("accountId") or ""
        if not source:
            raise DomainError(ErrorCode.REQUIRED, "Give the source to update in.", field="source")
        if source in MULTI_ACCOUNT_SOURCES and not account_id:
            raise DomainError(
                ErrorCode.REQUIRED,
                f"{source} has several accounts: give the accountId.",
                field="accountId",
            )
        if not customer.source_accounts.filter(source=source, account_id=account_id).exists():
            raise DomainError(
                ErrorCode.NOT_FOUND,
                "The customer has no profile in this source and account.",
                field="source",
            )
        use_async = request.query_params.get("use_async") or False
        in_background = parse_boolean(use_async, field="use_async")
        self.parsed = Parsed()
        result = customer_update(
            customer=customer,
            data=self.parsed.changes(request.data, source, account_id),
            actor=self.actor,
            loyalty_in_background=in_background,
        )
        return Response(
            {
                "customerId": customer.pk,
                "warnings": warnings(result),
                "sideEffects": [] if in_background else side_effects(result.side_effects, customer),
            }
        )

    def get(self, request, customer_id=None):
        customer = self.customer(customer_id or request.query_params.get("customerId"))
        document = customer_document(organization=self.organization, public_id=customer.public_id)
        return Response(render_customer(document))


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
