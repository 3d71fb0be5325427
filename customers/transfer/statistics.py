"""Keeping PostgreSQL's planner statistics current while an import grows an organization.

Statistics taken before an organization had rows make the planner expect one row of it, and
look keys up through an index that scans all of them: an import of 1,000,000 customers into a
new organization, beside another one's 100,000, stalled at 36,000; after 1,000,000 purchases
were loaded, a batch of 100 purchases took 603 ms instead of 288 ms until the tables were
analysed again. Autovacuum catches up in time; an import should not wait for it.
"""

from collections.abc import Callable

from django.db import connection

EARLIEST = 20_000  # rows: below this, a stale estimate costs little


class PlannerStatistics:
    """ANALYZE `tables` once a run has written its first rows, then each time it has grown
    what `count` counts (the organization's rows) by half."""

    def __init__(self, tables: tuple[str, ...], count: Callable[[], int]) -> None:
        self.tables = tables
        self.count = count
        self.planned_for: int | None = None
        self.added = 0

    def written(self, added: int) -> None:
        self.added += added
        if connection.vendor != "postgresql" or not self.added:
            return
        if self.planned_for is not None and self.added < max(EARLIEST, self.planned_for // 2):
            return
        with connection.cursor() as cursor:
            for table in self.tables:
                cursor.execute(f"ANALYZE {table}")
        self.planned_for = self.count()
        self.added = 0
