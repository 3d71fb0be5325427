from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

from crm.errors import DomainError, ErrorCode

from .fields import StrictIntegerField


def invalid_cursor() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "No page at this cursor.", field="cursor")


class CursorPage(CursorPagination):
    """Pages that cost the same however large the table: no count, a cursor to the next page.

    `page_size` is 1 to `max_page_size` or refused (400); a cursor that this API did not make, or
    whose position cannot be a value of the ordering column, finds no page (404), rather than
    reaching the database as a malformed comparison.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-pk")

    def get_page_size(self, request):
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        try:
            return StrictIntegerField(min_value=1, max_value=self.max_page_size).clean(given)
        except forms.ValidationError as error:
            raise exceptions.ValidationError({self.page_size_query_param: error.messages}) from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid_cursor() from None
        if cursor is None:
            return None
        # Text that decodes to nothing ("AAAA", "%%%") names no page this API handed out.
        if cursor == (0, False, None) and request.query_params[self.cursor_query_param]:
            raise invalid_cursor()
        if cursor.position is not None:
            self.check_position(cursor.position)
        return cursor

    def check_position(self, position: str) -> None:
        if "\x00" in position:
            raise invalid_cursor()
        try:
            self.model._meta.get_field(self.ordering[0].lstrip("-")).to_python(position)
        except (FieldDoesNotExist, ValidationError, ValueError, OverflowError):
            raise invalid_cursor() from None
