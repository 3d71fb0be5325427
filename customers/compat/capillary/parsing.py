"""A Capillary request as the services' inputs, and our field names in Capillary's words."""

import re
from datetime import datetime
from typing import Any

from crm.errors import DomainError, ErrorCode
from crm.parsing import parse_boolean, parse_datetime
from customers.inputs import (
    UNSET,
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
    SourceAccountKey,
)

NAME_LIMIT = 100  # longer names are cut, as Capillary does


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


def _name(value: Any) -> Any:
    """Null is no name; a name that is not text is left for the service to refuse."""
    if value is None:
        return ""
    return value[:NAME_LIMIT] if isinstance(value, str) else value


def _sent_name(profile: dict, *spellings: str) -> Any:
    """The name under the first spelling the profile has, or UNSET: an update keeps a name it
    is not sent; one sent as "" or null is cleared."""
    for spelling in spellings:
        if spelling in profile:
            return _name(profile[spelling])
    return UNSET


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
            data.first_name = _sent_name(first, "firstName", "Firstname")
            data.last_name = _sent_name(first, "lastName", "Lastname")
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
        for i, profile in enumerate(profiles):
            if not profile.get("identifiers"):
                # The document marks them mandatory: a profile is found by its identifiers.
                raise DomainError(
                    ErrorCode.REQUIRED,
                    "A profile needs at least one identifier (mobile, email or externalId).",
                    field=f"profiles[{i}].identifiers",
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

    def changes(self, body: Any, target: SourceAccountKey) -> CustomerInput:
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
            if profile.get("source") and str(profile["source"]).upper() != target.source:
                raise DomainError(
                    ErrorCode.IDENTIFIER_IMMUTABLE,
                    "The source of a customer cannot be changed.",
                    field=f"profiles[{i}].source",
                )
            if profile.get("accountId") and profile["accountId"] != target.account_id:
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
    (r"^account_id$", "accountId"),
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


def update_target(params) -> SourceAccountKey:
    """The source and account whose profile an update changes."""
    source = (params.get("source") or "").upper()
    if not source:
        raise DomainError(ErrorCode.REQUIRED, "Give the source to update in.", field="source")
    return SourceAccountKey(source=source, account_id=params.get("accountId") or "")


def in_background(params) -> bool:
    """Whether the update's loyalty work may follow in the background (`use_async`)."""
    return parse_boolean(params.get("use_async") or False, field="use_async")
