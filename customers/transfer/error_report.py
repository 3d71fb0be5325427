"""The import's report of the failed records, as CSV: line, field, code, message, then the record
as it was (each of its rows, for a purchase of several rows). A resumed run continues its report
where its last checkpoint left it."""

import csv
import os
from pathlib import Path

from customers.models import ImportRun

from .purchase_files import PurchaseReader
from .reading import Reader
from .runs import Progress


class ErrorReport:
    """The failed records of a run, written as each batch is applied."""

    def __init__(
        self, path: str, reader: Reader | PurchaseReader, resumed_run: ImportRun | None
    ) -> None:
        self.path = Path(path)
        self.reader = reader
        if resumed_run is not None and resumed_run.errors_path == path and self.path.exists():
            self.file = self.path.open("r+", encoding="utf-8", newline="")
            self.file.truncate(resumed_run.errors_size)  # what the interrupted batch wrote
            self.file.seek(resumed_run.errors_size)
            self.started = resumed_run.errors_size > 0
        else:
            self.file = self.path.open("w", encoding="utf-8", newline="")
            self.started = False
        self.writer = csv.writer(self.file)

    def write(self, progress: Progress) -> int:
        """Write the batch's failed records, durably; the report's size, which the run's
        checkpoint keeps so that a resumed run cuts off what an interrupted batch wrote."""
        failed = [result for result in progress.results if result.outcome == "failed"]
        if not self.started:
            original = self.reader.header or ["record"]
            self.writer.writerow(["line", "field", "code", "message", *original])
            self.started = True
        for result in failed:
            error = result.error
            field = result.record.field_name(error.field)
            for line, original in result.record.report_rows():
                self.writer.writerow([line, field, str(error.code), error.message, *original])
        self.file.flush()
        os.fsync(self.file.fileno())
        return self.file.tell()

    def close(self) -> None:
        self.file.close()
