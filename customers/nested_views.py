"""The base of the API views nested under one customer (customers/{id}/…/): the customer API's
identifiers and channels and the loyalty API's points and cards share it, so it sits in the
customer identity layer both may import."""

from django.db.models import QuerySet

from crm.api.base import OrganizationViewSet
from crm.errors import DomainError, ErrorCode
from customers import selectors
from customers.models import Customer


class CustomerChildViewSet(OrganizationViewSet):
    """Rows that belong to one customer, at customers/{id}/…/."""

    pagination_class = None

    def customer(self) -> Customer:
        customer = selectors.customer_get(
            organization=self.organization, public_id=self.kwargs["customer_id"]
        )
        if customer is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such customer.", field="customer")
        return customer

    def child(self, queryset: QuerySet):
        row = queryset.filter(customer=self.customer(), pk=self.kwargs["pk"]).first()
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"No such {queryset.model._meta.verbose_name}.")
        return row
