"""Closed customers: merged into another customer, or erased.

What remains of a closed customer (a merge's tombstone, an erasure's anonymous record) no longer
changes. Every write service of customers and loyalty refuses it, and its enrolments, cards,
identifiers, channels and coupons, with the one error code `customer_closed`, whichever door the
write comes through; deleting the record stays possible.

A merged customer's old id resolves to the survivor (customers.selectors.customer_get), for
writes as for reads: a door that looks a customer up by id acts on the survivor. Only a write
that reaches the tombstone itself (by primary key in the admin, say) is refused.

Kept apart from customers.services so that loyalty.services can use it too.
"""

from crm.errors import DomainError, ErrorCode

from .models import Customer

# What an erasure leaves in place of a text that named the customer (a log entry, an address).
ERASED_TEXT = "(erased)"


def customer_is_closed(customer: Customer) -> bool:
    return customer.merged_into_id is not None or customer.erased_at is not None


def customer_refuse_closed(customer: Customer) -> None:
    """Raise DomainError(customer_closed) for a merged or erased customer."""
    if customer.merged_into_id is not None:
        raise DomainError(
            ErrorCode.CUSTOMER_CLOSED,
            f"Customer {customer.public_id} was merged into {customer.merged_into.public_id}: "
            "change that customer instead.",
            field="customer",
        )
    if customer.erased_at is not None:
        raise DomainError(
            ErrorCode.CUSTOMER_CLOSED,
            f"Customer {customer.public_id} was erased: their record cannot change.",
            field="customer",
        )


def customer_lock_open(customer_id: int) -> Customer:
    """The customer's row, locked until the transaction ends so that no merge or erasure runs
    meanwhile; refused if the customer is closed. Call it inside a transaction."""
    customer = Customer.objects.select_for_update(no_key=True).get(pk=customer_id)
    customer_refuse_closed(customer)
    return customer
