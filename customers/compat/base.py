"""The one interface every vendor door sits on: a `VendorView` per vendor.

Each vendor is a package beside this module (capillary/, jericommerce/, leal/, voucherify/):

    auth.py       how its clients authenticate (the Bearer scheme is shared: ../authentication.py)
    parsing.py    its wire format -> the services' inputs (raises DomainError naming our field)
    rendering.py  the services' results and errors -> its wire format
    views.py      each handler: parse -> one service call -> render; nothing else
    urls.py       its routes, mounted under /compat/<vendor>/ by ./urls.py
    fixtures/     the examples of its document in ../shared/seeds, copied from it, not retyped

A vendor's views subclass `VendorView`, naming its `authentication_classes` and answering
`error()` in its shape. `VendorView` gives them, as on the native API, the organization and actor
of the API key, the rate limit and its RateLimit-* headers, the request guards, one transaction
per write with its Idempotency-Key, and every exception answered through `error()`. No rule lives
in a door.
"""

import logging

from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api import idempotency
from crm.api.authentication import CallerView
from crm.api.guards import GuardedRequests, as_api_exception
from crm.api.problems import domain_status, field_errors
from crm.api.throttling import OrganizationRateThrottle, RateLimitHeaders
from crm.errors import DomainError, ErrorCode
from crm.parsing import parse_id

logger = logging.getLogger(__name__)


def path_id(value: str, *, field: str, message: str) -> int:
    """The id a path (or a lookup parameter) names; text that is no id names nothing: 404."""
    try:
        return parse_id(value, field=field)
    except DomainError:
        raise DomainError(ErrorCode.NOT_FOUND, message, field=field) from None


class VendorView(
    CallerView, RateLimitHeaders, idempotency.TransactionalWrites, GuardedRequests, APIView
):
    """A vendor endpoint. Subclasses say how to authenticate and how errors look."""

    schema = None  # documented by the vendor, not in this API's OpenAPI description
    permission_classes = [IsAuthenticated]
    throttle_classes = [OrganizationRateThrottle]
    renderer_classes = [JSONRenderer]

    def error(self, status: int, code, message: str, field: str | None = None) -> Response:
        """The vendor's error reply; `code` is our stable code (a string) or an HTTP status."""
        raise NotImplementedError

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            return super().handle_exception(exc)
        exc = as_api_exception(exc)
        if isinstance(exc, DomainError):
            return self.error(domain_status(exc), str(exc.code), exc.message, exc.field)
        if isinstance(exc, Http404):
            exc = exceptions.NotFound()
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response = self.error(401, 401, str(exc.detail))
            response["WWW-Authenticate"] = self.get_authenticate_header(self.request) or "Bearer"
            return response
        if isinstance(exc, exceptions.Throttled):
            response = self.error(429, 429, str(exc.detail))
            response["Retry-After"] = str(int(exc.wait or 0) + 1)
            return response
        if isinstance(exc, exceptions.ValidationError):
            [first, *_] = field_errors(exc.detail) or [{"field": None, "message": "Invalid."}]
            return self.error(400, "invalid", first["message"], first["field"] or None)
        if isinstance(exc, exceptions.APIException):
            return self.error(exc.status_code, exc.status_code, str(exc.detail))
        logger.exception("Unhandled error in %s", self.request.path, exc_info=exc)
        return self.error(500, 500, "Something went wrong on our side.")
