"""What the doors (admin, API, vendor adapters, imports) hand to the customer services.

Each door parses its own wire format into these; the services never see a vendor's field names.
Scalar fields left UNSET are not touched by an update, and take their defaults on registration.
"""

from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any, Final

from customers.fields import CUSTOMER_FIELDS


class _Unset:
    _instance = None

    def __new__(cls) -> "_Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()


@dataclass
class IdentifierInput:
    type: str
    value: str
    series_id: int | None = None
    status_label: str = ""
    extended_fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceAccountInput:
    source: str
    account_id: str = ""
    first_name: str = ""
    last_name: str = ""
    custom_fields: dict[str, Any] = field(default_factory=dict)
    identifiers: list[IdentifierInput] = field(default_factory=list)


@dataclass
class SourceAccountKey:
    """The source, and account for a source of several, that a change sent through it is
    recorded in; "" when the request names no account."""

    source: str
    account_id: str = ""


@dataclass
class ChannelInput:
    type: str
    value: str
    primary: bool = False
    verified: bool = False
    subscribed: bool = True
    residence: bool = False
    office: bool = False
    last_viewed_at: datetime | None = None


@dataclass
class EnrollmentInput:
    program_id: int
    tier_number: int | None = None
    points: int = 0
    tier_expires_at: datetime | None = None
    points_expire_at: datetime | None = None


def enrollment_as_dict(enrollment: EnrollmentInput) -> dict[str, Any]:
    """For a background job, which gets it back with `enrollment_from_dict`."""
    data = asdict(enrollment)
    for name in ("tier_expires_at", "points_expire_at"):
        data[name] = data[name].isoformat() if data[name] else None
    return data


def enrollment_from_dict(data: dict[str, Any]) -> EnrollmentInput:
    dates = {
        name: datetime.fromisoformat(data[name]) if data[name] else None
        for name in ("tier_expires_at", "points_expire_at")
    }
    return EnrollmentInput(**{**data, **dates})


@dataclass
class CustomerInput:
    first_name: str | _Unset = UNSET
    last_name: str | _Unset = UNSET
    email: str | _Unset | None = UNSET
    email_verified: bool | _Unset = UNSET
    phone: str | _Unset | None = UNSET
    birthday: date | _Unset | None = UNSET
    address_line1: str | _Unset = UNSET
    address_line2: str | _Unset = UNSET
    city: str | _Unset = UNSET
    state: str | _Unset = UNSET
    postal_code: str | _Unset = UNSET
    country: str | _Unset = UNSET
    description: str | _Unset = UNSET
    external_id: str | _Unset | None = UNSET
    loyalty_type: str | _Unset = UNSET
    status: str | _Unset = UNSET
    # The name of one of the organization's status labels; sets the status with it.
    status_label: str | _Unset | None = UNSET
    # The registering store's code.
    store_code: str | _Unset | None = UNSET
    # Merged into what the customer has; a key given as None is removed.
    custom_fields: dict[str, Any] | _Unset = UNSET
    extended_fields: dict[str, Any] | _Unset = UNSET
    # Registration only: the referrer's referral code.
    referral_code: str = ""
    source_accounts: list[SourceAccountInput] = field(default_factory=list)
    channels: list[ChannelInput] = field(default_factory=list)
    enrollments: list[EnrollmentInput] = field(default_factory=list)
    stamp_card_ids: list[int] = field(default_factory=list)

    def given(self) -> dict[str, Any]:
        """The profile fields that were set, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name in PROFILE_FIELDS and getattr(self, f.name) is not UNSET
        }


# The profile fields a door may set, by their names here.
PROFILE_FIELDS: Final = frozenset(field.input_name for field in CUSTOMER_FIELDS if field.input_name)
