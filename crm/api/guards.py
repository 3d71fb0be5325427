"""What every request to the API and to the vendor doors is checked for before any view code
runs, so that input no door can take answers a 4xx (in the door's own error shape), not a 500.

- A body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 before it is read.
- NUL characters in a path parameter, a query parameter or a header are refused naming it:
  PostgreSQL cannot store them, and the driver raises when one reaches a query.
- The body is parsed at once (crm.api.parsers refuses NUL text, deep nesting and numbers that
  are not finite), so a bad body is refused before the view, the idempotency key included,
  reads it.

Both door bases mix in GuardedRequests, which checks right after authentication, permissions
and throttling (so an unknown caller costs nothing) and before whatever a base does next in
`initial()` (the Idempotency-Key's record hashes the body); their exception handlers pass
Django's own request errors through as_api_exception().
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework import exceptions, status

from .parsers import NUL, nul_error

METHODS_WITH_BODIES = {"POST", "PUT", "PATCH"}


def body_limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self):
        limit = body_limit()
        super().__init__(
            f"The request body is larger than the limit of {limit} bytes ({limit / 2**20:g} MiB)."
        )


def declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django and DRF read no body then either


def check_request(request, path_parameters: dict) -> None:
    """Raises a DRF exception for a request no view should see (see the module's text)."""
    if declared_length(request) > body_limit():
        raise PayloadTooLarge()
    for name, value in path_parameters.items():
        if isinstance(value, str) and NUL in value:
            raise nul_error(name)
    for name, values in request.query_params.lists():
        if NUL in name or any(NUL in value for value in values):
            raise nul_error(name.replace(NUL, "\\0"))
    for name, value in request.headers.items():
        if NUL in value:
            raise nul_error(name)
    if request.method in METHODS_WITH_BODIES:
        request.data  # noqa: B018 -- parsed now, and refused now if it cannot be taken


class GuardedRequests:
    """For DRF views; listed after any mixin whose `initial()` reads the request."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        check_request(request, kwargs)


def as_api_exception(exc: Exception) -> Exception:
    """Django's refusals of a request (raised when the view reads it) as the API's exceptions."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, SuspiciousOperation):  # too many fields, a malformed multipart body, …
        return exceptions.ParseError(str(exc) or "The request cannot be read.")
    return exc
