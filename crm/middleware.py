"""Request ids on every response, and problem details for every API error, whatever raised it."""

import logging
import re
import uuid

from django.http import HttpRequest, HttpResponseBadRequest, JsonResponse

from crm.api.problems import CONTENT_TYPE, problem_response

logger = logging.getLogger(__name__)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
API_PREFIX = "/api/"
VENDOR_PREFIX = "/compat/"


class RequestIdMiddleware:
    """Keeps a caller's well-formed X-Request-ID, or makes one, and returns it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class NulInQueryMiddleware:
    """Pages outside the API doors (the admin, card pages) refuse a NUL character in the query
    string with 400 naming the parameter: PostgreSQL cannot compare text holding one, so an admin
    filter or autocomplete term would otherwise fail with a 500. The API and the vendor doors
    refuse it themselves, in their own error shapes (crm.api.guards)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if not request.path.startswith((API_PREFIX, VENDOR_PREFIX)):
            for name, values in request.GET.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    shown = name.replace("\x00", "\\0")
                    return HttpResponseBadRequest(
                        f"The query parameter {shown!r} contains a NUL character.",
                        content_type="text/plain; charset=utf-8",
                    )
        return self.get_response(request)


class ApiProblemMiddleware:
    """Under /api/, errors that no API view shaped (an unknown URL, a crash) become problems;
    under /compat/, where each vendor has its own error shape, a plain JSON error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        unshaped = response.status_code >= 400 and not response.get("Content-Type", "").startswith(
            (CONTENT_TYPE, "application/json")
        )
        if unshaped and request.path.startswith(VENDOR_PREFIX):
            reason = response.reason_phrase or "Error"
            return JsonResponse(
                {"error": reason, "code": response.status_code}, status=response.status_code
            )
        if unshaped and request.path.startswith(API_PREFIX):
            codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
            code = codes.get(response.status_code, "error")
            return problem_response(
                request, response.status_code, code, response.reason_phrase or "Error"
            )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path.startswith(API_PREFIX):
            return None
        logger.exception("Unhandled error in %s", request.path, exc_info=exception)
        return problem_response(request, 500, "server_error", "Something went wrong on our side.")
