"""Jericommerce's customer integration API: batch upserts keyed by email, deletes by email.

    POST   /v1/programs/{programId}/integrations/api   [{"email", "feature": "users", "payload"}]
    DELETE /v1/programs/{programId}/integrations/api?email=…

Authentication: the `Authorization` header carries the API key (bare or after "Bearer").
Mapping and limits: docs/compat/jericommerce.md.
"""

from rest_framework.authentication import BaseAuthentication
from rest_framework.response import Response

from crm.api.authentication import client_for_key
from crm.errors import DomainError, ErrorCode
from customers.inputs import CustomerInput, EnrollmentInput
from customers.membership.upsert import customer_upsert
from customers.models import Customer
from customers.normalization import normalize_email
from customers.services.update import customer_delete
from loyalty.models import Program

from .base import VendorView, authorization, path_id

MAX_ITEMS = 100
PAYLOAD_FIELDS = {
    "email": "payload.email",
    "phone": "payload.phone",
    "external_id": "payload.externalCustomerId",
    "first_name": "payload.name",
    "last_name": "payload.name",
    "email_verified": "payload.emailVerified",
}


class AuthorizationKey(BaseAuthentication):
    """The key itself in the Authorization header, with or without "Bearer"."""

    def authenticate(self, request):
        scheme, credentials = authorization(request)
        if not scheme:
            return None
        header = request.META["HTTP_AUTHORIZATION"].strip()
        return client_for_key(credentials if scheme == "bearer" else header)

    def authenticate_header(self, request):
        return "Bearer"


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


class IntegrationView(VendorView):
    authentication_classes = [AuthorizationKey]

    def error(self, status, code, message, field=None):
        body = {"error": message, "code": code}
        if field:
            body["field"] = field
        return Response(body, status=status)

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
        email = item.get("email") if isinstance(item, dict) else None
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
            field = PAYLOAD_FIELDS.get(error.field, error.field)
            if error.field == "email" and "email" not in (item.get("payload") or {}):
                field = "email"  # the item's key, as no new email was sent
            return {
                "email": email,
                "status": "error",
                "errors": [{"field": field, "code": str(error.code), "message": error.message}],
            }
        status = "created" if result.created else "updated" if result.changed else "unchanged"
        return {"email": email, "status": status, "customerId": result.customer.public_id}

    def delete(self, request, program_id: str):
        self.program(program_id)
        email = request.query_params.get("email", "")
        if not email.strip():
            return self.error(400, "required", "Give the customer's email: ?email=…", "email")
        customer = Customer.objects.filter(
            organization=self.organization, email=normalize_email(email)
        ).first()
        if customer is None:
            return self.error(404, "not_found", "No customer with this email.", "email")
        customer_delete(customer=customer, actor=self.actor)
        return Response({"email": email, "deleted": True}, status=201)
