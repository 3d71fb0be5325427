"""One error shape for the whole API: RFC 9457 problem details.

    {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "...",
     "code": "email_taken", "instance": "/api/v1/customers/", "request_id": "...",
     "errors": [{"field": "email", "code": "email_taken", "message": "..."}]}

`code` is stable and machine-readable; `errors` lists each invalid field by its path in the
request body (`source_accounts[0].identifiers[1].value`).
"""

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from crm.errors import DomainError, ErrorCode

from .guards import as_api_exception

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/problem+json"

CONFLICTS = {
    ErrorCode.EMAIL_TAKEN,
    ErrorCode.PHONE_TAKEN,
    ErrorCode.EXTERNAL_ID_TAKEN,
    ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
    ErrorCode.CUSTOMER_EXISTS,
    ErrorCode.IDENTIFIERS_CONFLICT,
    ErrorCode.CHANNEL_TAKEN,
    ErrorCode.ALREADY_ENROLLED,
    ErrorCode.DUPLICATE_REFERENCE,
    ErrorCode.STORE_CODE_TAKEN,
    ErrorCode.EXTENDED_FIELD_TAKEN,
    ErrorCode.STATUS_LABEL_TAKEN,
    ErrorCode.DEFAULT_STATUS_LABEL_TAKEN,
    ErrorCode.PROGRAM_TAKEN,
    ErrorCode.TIER_TAKEN,
    # Merged or erased: the customer is still there (reads answer), but no longer changes.
    ErrorCode.CUSTOMER_CLOSED,
    # The customer's status label (or status) stops them earning or spending for now.
    ErrorCode.EARNING_BLOCKED,
    ErrorCode.SPENDING_BLOCKED,
}
REFUSED_BY_RULE = {
    ErrorCode.INACTIVE,
    ErrorCode.INSUFFICIENT_POINTS,
    ErrorCode.INSUFFICIENT_STAMPS,
    ErrorCode.LOYALTY_TYPE_DOWNGRADE,
    ErrorCode.IDENTIFIER_IMMUTABLE,
    ErrorCode.COUPON_EXPIRED,
    ErrorCode.COUPON_REDEEMED,
    ErrorCode.NOT_ENROLLED,
    ErrorCode.OUT_OF_STOCK,
    ErrorCode.REDEMPTION_LIMIT_REACHED,
    ErrorCode.RETURN_EXCEEDS_PURCHASE,
}


def domain_status(error: DomainError) -> int:
    if error.code in {ErrorCode.NOT_FOUND, ErrorCode.COUPON_UNKNOWN, ErrorCode.REWARD_UNKNOWN}:
        return 404
    if error.code in CONFLICTS:
        return 409
    if error.code in REFUSED_BY_RULE:
        return 422
    return 400


def problem(request, status: int, code: str, detail: str, errors: list[dict] | None = None) -> dict:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.path,
        "request_id": getattr(request, "request_id", ""),
    }
    if errors:
        body["errors"] = errors
    return body


def field_errors(detail, path: str = "") -> list[dict]:
    """DRF's nested validation errors as a flat list, each with the path of its field."""
    if isinstance(detail, dict):
        return [
            error
            for name, value in detail.items()
            for error in field_errors(value, _child_path(path, name))
        ]
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            return [{"field": path, "code": item.code, "message": str(item)} for item in detail]
        return [
            error for i, item in enumerate(detail) for error in field_errors(item, f"{path}[{i}]")
        ]
    return [{"field": path, "code": getattr(detail, "code", "invalid"), "message": str(detail)}]


def _child_path(path: str, name) -> str:
    if name == "non_field_errors":
        return path
    if isinstance(name, int):  # a list's errors by item index
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def domain_error_body(request, error: DomainError) -> tuple[int, dict]:
    status = domain_status(error)
    errors = [{"field": error.field, "code": str(error.code), "message": error.message}]
    return status, problem(request, status, str(error.code), error.message, errors)


def exception_handler(exc, context):
    """DRF's exception handler: every error, whatever raised it, as problem details."""
    request = context["request"]
    headers = {}
    exc = as_api_exception(exc)
    if isinstance(exc, DomainError):
        status, body = domain_error_body(request, exc)
    elif isinstance(exc, exceptions.ValidationError):
        status = 400
        body = problem(
            request,
            status,
            "validation_error",
            "The request is not valid.",
            field_errors(exc.detail),
        )
    elif isinstance(exc, exceptions.APIException | Http404 | PermissionDenied):
        if isinstance(exc, Http404):
            exc = exceptions.NotFound()
        elif isinstance(exc, PermissionDenied):
            exc = exceptions.PermissionDenied()
        status = exc.status_code
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = problem(request, status, code, str(exc.detail))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
    else:
        logger.exception("Unhandled error in %s", request.path, exc_info=exc)
        status = 500
        body = problem(request, status, "server_error", "Something went wrong on our side.")
    return Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)


def problem_response(request, status: int, code: str, detail: str) -> JsonResponse:
    """For errors outside DRF's views (unknown URLs, crashes in middleware)."""
    return JsonResponse(
        problem(request, status, code, detail), status=status, content_type=CONTENT_TYPE
    )
