"""The one error type the service layer raises.

Every door (admin, REST API, vendor adapters, imports) turns a DomainError into its own wire format;
`code` is stable and machine-readable, `field` names the offending input.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    REQUIRED = "required"
    INVALID = "invalid"
    TOO_LONG = "too_long"
    NOT_FOUND = "not_found"
    INACTIVE = "inactive"
    EMAIL_INVALID = "email_invalid"
    PHONE_INVALID = "phone_invalid"
    EMAIL_TAKEN = "email_taken"
    PHONE_TAKEN = "phone_taken"
    EXTERNAL_ID_TAKEN = "external_id_taken"
    SOURCE_INVALID = "source_invalid"
    IDENTIFIER_TYPE_INVALID = "identifier_type_invalid"
    CUSTOMER_EXISTS_FOR_SOURCE = "customer_exists_for_source"
    CUSTOMER_EXISTS = "customer_exists"
    IDENTIFIERS_CONFLICT = "identifiers_conflict"
    IDENTIFIER_IMMUTABLE = "identifier_immutable"
    CHANNEL_TYPE_INVALID = "channel_type_invalid"
    CHANNEL_TAKEN = "channel_taken"
    EXTENDED_FIELD_UNKNOWN = "extended_field_unknown"
    EXTENDED_FIELD_TYPE = "extended_field_type"
    EXTENDED_FIELD_ENUM = "extended_field_enum"
    STATUS_LABEL_UNKNOWN = "status_label_unknown"
    LOYALTY_TYPE_DOWNGRADE = "loyalty_type_downgrade"
    REFERRAL_CODE_UNKNOWN = "referral_code_unknown"
    STORE_UNKNOWN = "store_unknown"
    STORE_CODE_TAKEN = "store_code_taken"
    EXTENDED_FIELD_TAKEN = "extended_field_taken"
    PROGRAM_UNKNOWN = "program_unknown"
    TIER_UNKNOWN = "tier_unknown"
    ALREADY_ENROLLED = "already_enrolled"
    NOT_ENROLLED = "not_enrolled"
    AMOUNT_INVALID = "amount_invalid"
    INSUFFICIENT_POINTS = "insufficient_points"
    DUPLICATE_REFERENCE = "duplicate_reference"
    INSUFFICIENT_STAMPS = "insufficient_stamps"
    REWARD_UNKNOWN = "reward_unknown"
    COUPON_UNKNOWN = "coupon_unknown"
    COUPON_EXPIRED = "coupon_expired"
    COUPON_REDEEMED = "coupon_redeemed"
    TOTP_DEVICE_EXISTS = "totp_device_exists"
    STATUS_LABEL_TAKEN = "status_label_taken"
    DEFAULT_STATUS_LABEL_TAKEN = "default_status_label_taken"
    PROGRAM_TAKEN = "program_taken"
    TIER_TAKEN = "tier_taken"
    IN_USE = "in_use"
    CUSTOMER_CLOSED = "customer_closed"
    EARNING_BLOCKED = "earning_blocked"
    SPENDING_BLOCKED = "spending_blocked"
    OUT_OF_STOCK = "out_of_stock"
    REDEMPTION_LIMIT_REACHED = "redemption_limit_reached"
    SKU_UNKNOWN = "sku_unknown"
    RETURN_EXCEEDS_PURCHASE = "return_exceeds_purchase"


class DomainError(Exception):
    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code!s}, {self.message!r}, field={self.field!r})"

    def __reduce__(self):
        # Pickled by what it was made of (an import checks records in another process).
        return (DomainError, (self.code, self.message), {"field": self.field})

    def at(self, prefix: str) -> "DomainError":
        """The same error, its field placed under `prefix` (an item of a nested input)."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return DomainError(self.code, self.message, field=field)


def field_path(prefix: str, name: str) -> str:
    """`name` inside the input item at `prefix` ("" for the top level)."""
    return f"{prefix}.{name}" if prefix else name
