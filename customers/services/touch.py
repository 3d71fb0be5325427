"""A customer's updated_at moves when something of theirs other than the profile changes."""

from django.utils import timezone

from customers.models import Customer


def customer_touch(customer_id: int) -> None:
    Customer.objects.filter(pk=customer_id).update(updated_at=timezone.now())
