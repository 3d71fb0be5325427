"""What every API view shares: who the caller is and for which organization, throttling,
idempotent POSTs, and problem details for every error."""

from rest_framework import viewsets
from rest_framework.parsers import JSONParser

from crm.actors import Actor
from crm.models import Organization

from . import idempotency
from .authentication import request_actor, request_organization


class OrganizationViewSet(viewsets.GenericViewSet):
    """Everything is looked up within the caller's organization: another's id is a 404.

    Subclasses name their model in `queryset` (for the schema) and scope it in
    `organization_queryset()`.
    """

    # Bodies are JSON documents, as the schema describes them: form encodings cannot say null,
    # a number or a nested object, so they would be read otherwise than the schema says.
    parser_classes = [JSONParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no caller
            return self.queryset
        return self.organization_queryset()

    def organization_queryset(self):
        raise NotImplementedError

    @property
    def organization(self) -> Organization:
        return request_organization(self.request)

    @property
    def actor(self) -> Actor:
        return request_actor(self.request)

    def initial(self, request, *args, **kwargs):
        self.idempotency_record = None
        super().initial(request, *args, **kwargs)
        self.idempotency_record = idempotency.begin(request)

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "idempotency_record", None) is not None:
            idempotency.complete(self.idempotency_record, response)
        return response
