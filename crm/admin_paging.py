"""Admin list pages over large tables: count no further than anyone pages."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows.

    An exact count of a million customers costs more than the rest of the page; nobody pages
    past the first few hundred, and a search narrows the list instead. The pagination template
    (templates/admin/pagination.html) shows a capped count as "CAP+".

    The count ignores the list's order: any CAP + 1 rows will do, and ordered ones would make the
    database find and sort every match (of a search, say) before it could stop at the cap.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return min(self.object_list.order_by()[: self.CAP + 1].count(), self.CAP)

    @cached_property
    def capped(self) -> bool:
        return self.count >= self.CAP


class LargeTableAdminMixin:
    """For the admin lists of tables that grow with the customers: no count past the cap, and
    none of the whole table for "Show all" or for each filter choice."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
