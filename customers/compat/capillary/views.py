"""Capillary's endpoint: parse the registration or update, call the service, render."""

from rest_framework.response import Response

from crm.errors import DomainError, ErrorCode
from customers import selectors
from customers.compat.authentication import BearerKey
from customers.compat.base import VendorView, path_id
from customers.compat.capillary import rendering
from customers.compat.capillary.auth import BasicPasswordKey
from customers.compat.capillary.parsing import Parsed, in_background, update_target
from customers.membership.documents import customer_document
from customers.membership.registration import customer_register
from customers.membership.update import customer_update
from customers.models import Customer


class CustomersView(VendorView):
    authentication_classes = [BasicPasswordKey, BearerKey]

    def error(self, status, code, message, field=None):
        if field and hasattr(self, "parsed"):
            field = self.parsed.vendor_field(field)
        return Response(rendering.error_body(status, code, message, field), status=status)

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
        return Response(rendering.registered(result))

    def put(self, request, customer_id=None):
        customer = self.customer(customer_id or request.query_params.get("customerId"))
        target = update_target(request.query_params)
        background = in_background(request.query_params)
        self.parsed = Parsed()
        result = customer_update(
            customer=customer,
            data=self.parsed.changes(request.data, target),
            actor=self.actor,
            loyalty_in_background=background,
            in_source=target,
        )
        return Response(rendering.updated(result, customer, in_background=background))

    def get(self, request, customer_id=None):
        customer = self.customer(customer_id or request.query_params.get("customerId"))
        document = customer_document(organization=self.organization, public_id=customer.public_id)
        return Response(rendering.render_customer(document))
