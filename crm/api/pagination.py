from rest_framework.pagination import CursorPagination


class CursorPage(CursorPagination):
    """Pages that cost the same however large the table: no count, a cursor to the next page."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-pk")
