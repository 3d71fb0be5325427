"""What the vendor-compatible APIs share: authenticating with the organization's API keys in
each vendor's fashion, answering every error in the vendor's own shape, the rate limit, and one
transaction per write with its Idempotency-Key, as on the native API.

An adapter parses the vendor's request into the services' inputs, calls the services and
renders their results in the vendor's shape. No rule lives in an adapter.
"""

import base64
import binascii
import logging

from django.http import Http404
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.actors import Actor
from crm.api import idempotency
from crm.api.authentication import client_for_key, request_actor, request_organization
from crm.api.guards import GuardedRequests, as_api_exception
from crm.api.problems import domain_status, field_errors
from crm.api.throttling import OrganizationRateThrottle
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from crm.parsing import parse_id

logger = logging.getLogger(__name__)


def authorization(request) -> tuple[str, str]:
    """The scheme (lower-case) and credentials of the Authorization header; ("", "") if none."""
    try:
        header = get_authorization_header(request).decode()
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(
            "The Authorization header is not valid text."
        ) from None
    scheme, _, credentials = header.strip().partition(" ")
    return scheme.lower(), credentials.strip()


class BearerKey(BaseAuthentication):
    """`Authorization: Bearer <key>`."""

    def authenticate(self, request):
        scheme, credentials = authorization(request)
        if scheme != "bearer" or not credentials:
            return None
        return client_for_key(credentials)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BasicPasswordKey(BaseAuthentication):
    """HTTP Basic with any user name and the API key as the password."""

    def authenticate(self, request):
        scheme, credentials = authorization(request)
        if scheme != "basic" or not credentials:
            return None
        try:
            _, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
        return client_for_key(password)

    def authenticate_header(self, request):
        return 'Basic realm="api"'


def path_id(value: str, *, field: str, message: str) -> int:
    """The id a path (or a lookup parameter) names; text that is no id names nothing: 404."""
    try:
        return parse_id(value, field=field)
    except DomainError:
        raise DomainError(ErrorCode.NOT_FOUND, message, field=field) from None


class VendorView(idempotency.TransactionalWrites, GuardedRequests, APIView):
    """A vendor endpoint. Subclasses say how to authenticate and how errors look."""

    schema = None  # documented by the vendor, not in this API's OpenAPI description
    permission_classes = [IsAuthenticated]
    throttle_classes = [OrganizationRateThrottle]
    renderer_classes = [JSONRenderer]

    def error(self, status: int, code, message: str, field: str | None = None) -> Response:
        """The vendor's error reply; `code` is our stable code (a string) or an HTTP status."""
        raise NotImplementedError

    @property
    def organization(self) -> Organization:
        return request_organization(self.request)

    @property
    def actor(self) -> Actor:
        return request_actor(self.request)

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
