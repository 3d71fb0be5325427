"""The query parameters of the native API's lists: each one the list knows, each value one it
takes; anything else is refused naming the parameter, where DRF would have ignored it and
answered a list the caller did not ask for.

A list knows the parameters of its filterset (so a filter added to it is known at once), its
pagination, its ordering and its search backend, and `format` (DRF's choice of renderer).
"""

import re

from django.utils.datastructures import MultiValueDict
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.settings import api_settings

UNKNOWN_PARAMETER = "unknown_parameter"
PAGINATION_PARAMETERS = (
    "cursor_query_param",
    "page_size_query_param",
    "page_query_param",
    "limit_query_param",
    "offset_query_param",
)


class StrictOrderingFilter(OrderingFilter):
    """`ordering` as a comma-separated list of the view's `ordering_fields`, each optionally
    preceded by `-`; any other term is refused, as the schema's pattern says."""

    def valid_terms(self, view) -> list[str]:
        return [name for name, _ in self.get_valid_fields(view.queryset, view)]

    def get_ordering(self, request, queryset, view):
        given = request.query_params.get(self.ordering_param)
        if given is None:
            return self.get_default_ordering(view)
        terms = given.split(",")
        valid = set(self.valid_terms(view))
        unknown = [term for term in terms if term.removeprefix("-") not in valid]
        if unknown:
            raise exceptions.ValidationError(
                {
                    self.ordering_param: f"Order by one or more of {', '.join(sorted(valid))} "
                    f"(comma-separated, each optionally preceded by -); {unknown[0]!r} is "
                    "none of them."
                }
            )
        return terms

    def get_schema_operation_parameters(self, view):
        [parameter] = super().get_schema_operation_parameters(view)
        names = "|".join(re.escape(name) for name in self.valid_terms(view))
        parameter["description"] = (
            f"Comma-separated, each optionally preceded by - (descending): "
            f"{', '.join(self.valid_terms(view))}."
        )
        parameter["schema"] = {"type": "string", "pattern": f"^-?({names})(,-?({names}))*$"}
        return [parameter]


def known_query_parameters(view) -> set[str]:
    known = {api_settings.URL_FORMAT_OVERRIDE}
    for backend_class in view.filter_backends:
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            filterset_class = backend.get_filterset_class(view, view.queryset)
            if filterset_class is not None:
                known |= set(filterset_class.base_filters)
        elif isinstance(backend, OrderingFilter):
            known.add(backend.ordering_param)
        elif isinstance(backend, SearchFilter):
            known.add(backend.search_param)
    if view.paginator is not None:
        known |= {
            getattr(view.paginator, attribute)
            for attribute in PAGINATION_PARAMETERS
            if getattr(view.paginator, attribute, None)
        }
    return known


def refuse_unknown_query_parameters(query_params: MultiValueDict, view) -> None:
    unknown = sorted(query_params.keys() - known_query_parameters(view))
    if unknown:
        raise exceptions.ValidationError(
            {
                name: exceptions.ErrorDetail("This list has no such parameter.", UNKNOWN_PARAMETER)
                for name in unknown
            }
        )
