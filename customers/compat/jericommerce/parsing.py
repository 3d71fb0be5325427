"""A Jericommerce batch item as the services' input, and our field names in its words."""

from crm.errors import DomainError, ErrorCode
from customers.inputs import CustomerInput

MAX_ITEMS = 100
PAYLOAD_FIELDS = {
    "email": "payload.email",
    "phone": "payload.phone",
    "external_id": "payload.externalCustomerId",
    "first_name": "payload.name",
    "last_name": "payload.name",
    "email_verified": "payload.emailVerified",
}


def item_input(item) -> tuple[str, CustomerInput]:
    """The email an item is keyed by, and what it sets. Raises DomainError naming the field."""
    if not isinstance(item, dict):
        raise DomainError(ErrorCode.INVALID, "Each item is an object.", field="")
    email = item.get("email")
    if not isinstance(email, str) or not email.strip():
        raise DomainError(ErrorCode.REQUIRED, "An email is required.", field="email")
    if item.get("feature") != "users":
        raise DomainError(ErrorCode.INVALID, 'The feature is always "users".', field="feature")
    payload = item.get("payload")
    if not isinstance(payload, dict):
        raise DomainError(ErrorCode.REQUIRED, "A payload object is required.", field="payload")
    external_id = payload.get("externalCustomerId")
    if not isinstance(external_id, str) or not external_id.strip():
        raise DomainError(
            ErrorCode.REQUIRED,
            "externalCustomerId is required for each creation or update.",
            field="payload.externalCustomerId",
        )
    data = CustomerInput(external_id=external_id, email=payload.get("email") or email)
    if "name" in payload:  # null clears it; a name not sent is not changed
        name = payload["name"] or ""
        if not isinstance(name, str):
            raise DomainError(ErrorCode.INVALID, "The name is text or null.", field="payload.name")
        data.first_name, _, data.last_name = name.strip().partition(" ")
    if "phone" in payload:
        data.phone = payload["phone"]
    if "emailVerified" in payload:
        data.email_verified = payload["emailVerified"]
    return email, data
