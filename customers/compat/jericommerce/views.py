"""Jericommerce's endpoint: each batch item parsed, upserted and answered on its own."""

from rest_framework.response import Response

from crm.errors import DomainError, ErrorCode
from customers.compat.base import VendorView, path_id
from customers.compat.jericommerce import rendering
from customers.compat.jericommerce.auth import AuthorizationKey
from customers.compat.jericommerce.parsing import MAX_ITEMS, item_input
from customers.compat.querystring import query_email
from customers.inputs import EnrollmentInput
from customers.membership.upsert import customer_upsert
from customers.models import Customer
from customers.normalization import normalize_email
from customers.services.update import customer_delete
from loyalty.models import Program


class IntegrationView(VendorView):
    authentication_classes = [AuthorizationKey]

    def error(self, status, code, message, field=None):
        return Response(rendering.error_body(code, message, field), status=status)

    def program(self, program_id: str) -> Program:
        pk = path_id(program_id, field="programId", message="No such program.")
        program = Program.objects.filter(organization=self.organization, pk=pk).first()
        if program is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such program.", field="programId")
        return program

    def post(self, request, program_id: str):
        program = self.program(program_id)
        items = request.data
        if not isinstance(items, list):
            return self.error(400, "invalid", "Send a JSON array of customers.")
        if len(items) > MAX_ITEMS:
            return self.error(
                400, "too_many", f"At most {MAX_ITEMS} customers per call; nothing was written."
            )
        outcomes = [self.upsert(program, item) for item in items]
        succeeded = any(outcome["status"] != "error" for outcome in outcomes)
        return Response(outcomes, status=201 if succeeded else 404)

    def upsert(self, program: Program, item) -> dict:
        try:
            key, data = item_input(item)
            data.enrollments = [EnrollmentInput(program.pk)]
            result = customer_upsert(
                organization=self.organization,
                data=data,
                match_by={"email": key},  # keyed by email alone
                actor=self.actor,
            )
        except DomainError as error:
            return rendering.item_refusal(item, error)
        return rendering.item_outcome(item.get("email"), result)

    def delete(self, request, program_id: str):
        self.program(program_id)
        email = request.query_params.get("email", "")
        if not email.strip():
            return self.error(400, "required", "Give the customer's email: ?email=…", "email")
        email = normalize_email(query_email(email))
        customer = Customer.objects.filter(organization=self.organization, email=email).first()
        if customer is None:
            return self.error(404, "not_found", "No customer with this email.", "email")
        customer_delete(customer=customer, actor=self.actor)
        return Response(rendering.deleted(email), status=201)
