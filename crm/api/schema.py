"""How the OpenAPI schema describes this API: each operation's texts, authentication, input
bodies, the Idempotency-Key header, the RateLimit-* headers and the errors each operation may
answer, as RFC 9457 problem details whose codes the schema lists."""

from django import forms
from django.conf import settings
from django.core import validators
from drf_spectacular.drainage import warn
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

from crm.errors import ErrorCode

from .idempotency import HEADER, MAX_KEY_LENGTH, TransactionalWrites
from .operations import OPERATIONS
from .query import UNKNOWN_PARAMETER
from .serializers import INVALID_TYPE, UNKNOWN_FIELD

ID_EXAMPLE = 1042
JS_SAFE_INTEGER = 2**53 - 1
IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    {"type": "string", "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER,
    description=(
        "With an API key: a retry with the same key and body gets the first response again "
        "(`Idempotent-Replayed: true`) without the work being done twice; the same key with "
        "another body is 422 `idempotency_key_reused`. Keys are kept 48 hours."
    ),
)


class ApiAutoSchema(AutoSchema):
    """Each operation's summary and description from crm.api.operations, and the
    Idempotency-Key header on the writes that honour it."""

    def operation_texts(self) -> tuple[str | None, str]:
        operation_id = self.get_operation_id()
        if operation_id not in OPERATIONS:
            warn(f"{operation_id} has no summary and description in crm/api/operations.py")
            return None, super().get_description()
        return OPERATIONS[operation_id]

    def get_summary(self):
        return self.operation_texts()[0]

    def get_description(self):
        return self.operation_texts()[1]

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self.method not in SAFE_METHODS and isinstance(self.view, TransactionalWrites):
            return [*parameters, IDEMPOTENCY_KEY]
        return parameters


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "crm.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer <key>` (manage.py create_api_key).",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    """Staff members' admin sessions: Django's session cookie, as for DRF's own class."""

    target_class = "crm.api.authentication.StaffSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


class InputSerializerScheme(OpenApiSerializerExtension):
    """Input bodies refuse undeclared keys (crm.api.serializers.InputSerializer), as the
    schema says."""

    target_class = "crm.api.serializers.InputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


class OneOfScheme(OpenApiSerializerFieldExtension):
    target_class = "crm.api.fields.OneOf"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "enum": self.target.values}


class BigIntegerScheme(OpenApiSerializerFieldExtension):
    """An integer bounded by 2^63-1 (ids, series ids) gets a realistic example: one generated
    from the schema would be its bound, which JavaScript reads as 9223372036854776000."""

    target_class = "rest_framework.fields.IntegerField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if schema.get("maximum", 0) > JS_SAFE_INTEGER and "example" not in schema:
            return {**schema, "example": max(schema.get("minimum", 1), ID_EXAMPLE)}
        return schema


def subclasses(cls: type) -> list[type]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in subclasses(child))]


def error_codes() -> list[str]:
    """Every code an item of a problem's `errors` may carry: the services' (crm.errors), this
    API's own, and those DRF's and Django's fields and validators give the input they refuse."""
    fields = [*subclasses(serializers.Field), *subclasses(forms.Field)]
    codes = {code for field in fields for code in vars(field).get("default_error_messages", {})}
    codes |= {
        validator.code
        for validator in vars(validators).values()
        if isinstance(validator, type) and isinstance(getattr(validator, "code", None), str)
    }
    codes |= {"unique"}  # DRF's UniqueValidator and UniqueTogetherValidator
    codes |= {UNKNOWN_FIELD, INVALID_TYPE, UNKNOWN_PARAMETER}
    return sorted(codes | set(ErrorCode))


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Conflict"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599, "example": 409},
        "detail": {"type": "string", "example": "This email address is already registered."},
        "code": {
            "type": "string",
            "description": "Stable and machine-readable: one of `errors[].code`, or the "
            "request's own (`validation_error`, `not_authenticated`, `permission_denied`, "
            "`throttled`, `payload_too_large`, `idempotency_key_reused`, …).",
            "example": "email_taken",
        },
        "instance": {"type": "string", "example": "/api/v1/customers/"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {
                        "type": "string",
                        "nullable": True,
                        "description": "The field's path in the request, "
                        "`source_accounts[0].identifiers[1].value`; null for the whole request.",
                        "example": "email",
                    },
                    "code": {"$ref": "#/components/schemas/ErrorCode"},
                    "message": {"type": "string"},
                },
                "required": ["field", "code", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail", "code", "instance", "request_id"],
}

ERRORS = {
    400: "Invalid input: a body, query or header value the operation does not take, each "
    "field named in `errors`.",
    401: "No API key, or one that is unknown or revoked.",
    403: "The caller acts for no organization, or lacks the permission the route needs.",
    404: "Not found in the caller's organization (another organization's id is not found "
    "either), or a page cursor this API did not give out.",
    409: "Conflicts with what is there: a value taken, a merged or erased customer, a "
    "customer whose status label blocks earning or spending.",
    413: "The body is larger than the limit (2 MiB), refused before it is read.",
    422: "Refused by a rule (insufficient points or stamps, inactive, coupon used or expired, "
    "…), or an Idempotency-Key reused with another body.",
    429: "Over the organization's requests a minute; `Retry-After` says when to try again.",
}
OTHER_ERRORS = "An error, as RFC 9457 problem details."
# Sent on every answer to a request the limiter counted: all but those refused before it counts,
# with no or a bad key (401) or for acting for no organization (a 403).
RATE_LIMITED = {"400", "404", "409", "413", "422", "429"}
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "The requests a minute the caller may make.",
    "RateLimit-Remaining": "What is left of them in this window, never below 0.",
    "RateLimit-Reset": "The seconds until the window ends, rounded up.",
}


def error_statuses(method: str, operation: dict) -> list[int]:
    parameters = operation.get("parameters", [])
    found = any(p["in"] == "path" or p["name"] == "cursor" for p in parameters)
    writes = method.upper() not in SAFE_METHODS
    has_body = method.upper() in {"POST", "PUT", "PATCH"}
    statuses = [400, 401, 403, *([404] if found else []), *([409, 413] if has_body else [])]
    return [*statuses, *([422] if writes else []), 429]


def problem_response(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def rate_limit_headers(status: str) -> dict:
    required = status.startswith("2") or status in RATE_LIMITED
    return {
        name: {"$ref": f"#/components/headers/{name}", **({"required": True} if required else {})}
        for name in RATE_LIMIT_HEADERS
    }


def add_problem_responses(result, generator, request, public):
    """The errors each operation may answer, as problem details; whatever else (405, 406, 415,
    500) as its default response; and the RateLimit-* headers on its answers."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(
        Problem=PROBLEM_SCHEMA,
        ErrorCode={
            "type": "string",
            "enum": error_codes(),
            "description": "What is wrong with the field (docs/api.md lists the services' codes "
            "with their statuses).",
        },
    )
    components.setdefault("headers", {}).update(
        {
            name: {"description": text, "schema": {"type": "integer", "minimum": 0}}
            for name, text in RATE_LIMIT_HEADERS.items()
        }
    )
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in error_statuses(method, operation):
                responses.setdefault(str(status), problem_response(ERRORS[status]))
            responses.setdefault(
                "default", problem_response("An error, as RFC 9457 problem details.")
            )
            responses["429"].setdefault("headers", {})["Retry-After"] = {
                "description": "The seconds until the window ends.",
                "schema": {"type": "integer", "minimum": 1},
                "required": True,
            }
            for status, response in responses.items():
                if status != "401":
                    response.setdefault("headers", {}).update(rate_limit_headers(status))
    return result
