"""Voucherify's endpoints: parse the customer object or list query, call, render."""

from math import ceil

from rest_framework.response import Response

from crm.errors import DomainError, ErrorCode
from customers.compat.base import VendorView
from customers.compat.voucherify import queries, rendering
from customers.compat.voucherify.auth import AppKeys
from customers.compat.voucherify.parsing import customer_input, list_query
from customers.inputs import UNSET
from customers.membership.update import customer_update
from customers.membership.upsert import customer_upsert
from customers.models import Customer
from customers.services.update import customer_delete


class VoucherifyView(VendorView):
    authentication_classes = [AppKeys]

    def error(self, status, code, message, field=None):
        return Response(
            rendering.error_body(status, code, message, field, self.request.request_id),
            status=status,
        )

    def rendered(self, customer: Customer) -> dict:
        return rendering.render_customer(
            queries.customers_rendered(self.organization).get(pk=customer.pk)
        )

    def find(self, key: str) -> Customer:
        customer = queries.customer_by_key(self.organization, key)
        if customer is None:
            raise DomainError(
                ErrorCode.NOT_FOUND, f"Cannot find customer with id {key}", field=None
            )
        return customer


class CustomersView(VoucherifyView):
    def post(self, request):
        data = customer_input(request.data)
        customer_id = request.data.get("id")
        if customer_id:  # an id wins over a source_id
            data.external_id = UNSET
            result = customer_update(
                customer=self.find(str(customer_id)), data=data, actor=self.actor
            )
        else:
            result = customer_upsert(
                organization=self.organization,
                data=data,
                match_by={"external_id": data.external_id or None},  # by source_id alone
                actor=self.actor,
            )
        return Response(self.rendered(result.customer))

    def get(self, request):
        query = list_query(request.query_params)
        customers, total = queries.customer_page(self.organization, query)
        has_more = query.page < ceil(total / query.limit)
        return Response(rendering.render_list(customers, total, has_more))


class CustomerView(VoucherifyView):
    def get(self, request, key: str):
        return Response(self.rendered(self.find(key)))

    def put(self, request, key: str):
        customer = self.find(key)
        data = customer_input(request.data)
        result = customer_update(customer=customer, data=data, actor=self.actor)
        return Response(self.rendered(result.customer))

    def delete(self, request, key: str):
        customer_delete(customer=self.find(key), actor=self.actor)
        return Response(status=204)
