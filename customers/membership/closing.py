"""What merging and erasing a customer share: the personal data a closed record keeps none of,
and the refusal of a customer already closed."""

from crm.errors import DomainError, ErrorCode
from customers.fields import CUSTOMER_FIELDS, ERASED

# Personal data: what an erasure empties, and what a tombstone keeps none of.
PERSONAL_FIELDS = {
    field.model_field: ERASED[field.kind] for field in CUSTOMER_FIELDS if field.personal
}


def closed_error(message: str, field_name: str = "customer") -> DomainError:
    return DomainError(ErrorCode.CUSTOMER_CLOSED, message, field=field_name)
