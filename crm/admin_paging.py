"""Admin list pages over large tables: count no further than anyone pages."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows.

    An exact count of a million customers costs more than the rest of the page; nobody pages
    past the first few hundred, and a search narrows the list instead. The pagination template
    shows a capped count as "CAP+".
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return min(self.object_list[: self.CAP + 1].count(), self.CAP)

    @cached_property
    def capped(self) -> bool:
        return self.count >= self.CAP
