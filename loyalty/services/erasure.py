"""The loyalty side of erasing a customer: enrolments, ledgers, cards and coupons stay, so totals
and counts do not change; the addresses card links went to are forgotten."""

from customers.closure import ERASED_TEXT

from ..models import CardLinkDelivery


def loyalty_erase(*, customer_ids: list[int]) -> None:
    """Forget where these customers' card links were sent, and how a delivery failed (the
    message can quote the address)."""
    CardLinkDelivery.objects.filter(customer_id__in=customer_ids).update(
        address=ERASED_TEXT, detail=""
    )
