"""What every API view shares: who the caller is and for which organization, throttling and its
RateLimit-* headers, one transaction per write with its Idempotency-Key, lists that refuse query
parameters they do not know, and problem details for every error."""

from rest_framework import viewsets

from . import guards, idempotency, query
from .authentication import CallerView
from .parsers import JSONParser
from .throttling import RateLimitHeaders


class OrganizationViewSet(
    CallerView,
    RateLimitHeaders,
    idempotency.TransactionalWrites,
    guards.GuardedRequests,
    viewsets.GenericViewSet,
):
    """Everything is looked up within the caller's organization: another's id is a 404.

    Subclasses name their model in `queryset` (for the schema) and scope it in
    `organization_queryset()`.
    """

    # Bodies are JSON documents, as the schema describes them: form encodings cannot say null,
    # a number or a nested object, so they would be read otherwise than the schema says.
    parser_classes = [JSONParser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action == "list":
            query.refuse_unknown_query_parameters(request.query_params, self)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no caller
            return self.queryset
        return self.organization_queryset()

    def organization_queryset(self):
        raise NotImplementedError
