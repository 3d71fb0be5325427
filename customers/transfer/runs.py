"""An import run: starting or resuming one, importing a file's records a batch at a time with a
checkpoint after each, and finishing it.

A run is recognised by the digests of its file's content and of its settings: starting the same
import again resumes the unfinished run after its last committed line. On PostgreSQL, outside a
transaction, reading and checking the next batch overlaps with writing the current one (a second
thread with its own connection).
"""

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from crm.actors import Actor
from crm.models import Organization
from customers.choices import ImportStatus
from customers.models import ImportRun

from .engine import Checked, Importer, RowResult
from .reading import Reader
from .records import FormatError, record_salt

R = TypeVar("R")  # a record of a file
B = TypeVar("B")  # a record as a batch gives it to be applied


@dataclass
class Totals:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, results: list[RowResult]) -> None:
        self.rows += len(results)
        for result in results:
            setattr(self, result.outcome.value, getattr(self, result.outcome.value) + 1)


@dataclass
class Progress:
    """Where a run stands, after each batch."""

    totals: Totals
    line: int
    results: list[RowResult]


def import_settings_digest(format: str, program_id: int | None, mode: str) -> str:
    """The digest of an import's settings: a run resumes only under the same ones."""
    settings = f"{record_salt(format, program_id)}:{mode}"
    return hashlib.blake2b(settings.encode(), digest_size=16).hexdigest()


def import_run_start(
    *,
    organization: Organization,
    file_path: str,
    content_digest: str,
    settings_digest: str,
    format: str,
    mode: str,
    errors_path: str,
    actor: Actor,
) -> tuple[ImportRun, bool]:
    """The run to continue (an unfinished one of the same file and settings) or a new one;
    True when it resumes."""
    if content_digest:
        run = (
            ImportRun.objects.filter(
                organization=organization,
                content_digest=content_digest,
                settings_digest=settings_digest,
                status=ImportStatus.RUNNING,
            )
            .order_by("-started_at", "-pk")
            .first()
        )
        if run is not None:
            return run, True
    run = ImportRun.objects.create(
        organization=organization,
        file_path=file_path[:500],
        content_digest=content_digest,
        settings_digest=settings_digest,
        format=format,
        mode=mode,
        errors_path=errors_path[:500],
        actor=str(actor),
    )
    return run, False


def customers_import(
    *,
    organization: Organization,
    reader: Reader,
    mode: str,
    actor: Actor,
    run: ImportRun | None,
    batch_size: int = 2000,
    dry_run: bool = False,
    on_batch: Callable[[Progress], int] | None = None,
) -> Totals:
    """Import the reader's records; with a run, resume after its last committed line and
    checkpoint each batch. `on_batch` is called inside each batch's transaction, before its
    checkpoint, with what the batch did; it returns the size of the error report, which the
    checkpoint keeps.

    With dry_run everything is checked and applied in a transaction that is rolled back.
    """
    importer = Importer(organization, reader, mode=mode, actor=actor, run=run)

    def checked_batches() -> Iterator[list[Checked]]:
        recognise = True
        for batch in batches(resumed(reader.records(), run), batch_size):
            checked = importer.read(batch, recognise=recognise)
            # Keep looking for records imported before while most of them are.
            recognise = sum(c.recognised for c in checked) * 2 >= len(checked)
            yield checked

    return batches_apply(
        checked_batches(), importer.apply, run=run, dry_run=dry_run, on_batch=on_batch
    )


def resumed(records: Iterator[R], run: ImportRun | None) -> Iterator[R]:
    """The records after the run's last committed line."""
    if run is None:
        return records
    return (record for record in records if record.line > run.line)


def batches_apply(
    checked: Iterator[list[B]],
    apply: Callable[[list[B]], list[RowResult]],
    *,
    run: ImportRun | None,
    dry_run: bool = False,
    on_batch: Callable[[Progress], int] | None = None,
) -> Totals:
    """Apply each batch in a transaction of its own, with its checkpoint (or all of them in one
    transaction rolled back, for a dry run), and finish the run."""
    totals = Totals()

    def commit(batch: list[B]) -> None:
        with transaction.atomic():
            results = apply(batch)
            totals.add(results)
            line = results[-1].record.line
            errors_size = on_batch(Progress(totals, line, results)) if on_batch else 0
            if run is not None and not dry_run:
                _checkpoint(run, line, results, errors_size)

    if dry_run:
        with transaction.atomic():
            for batch in checked:
                commit(batch)
            transaction.set_rollback(True)
        return totals
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        _pipelined(checked, commit)
    else:
        for batch in checked:
            commit(batch)
    if run is not None:
        run.status = ImportStatus.FINISHED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at", "updated_at"])
    return totals


def batches(records: Iterator[R], size: int) -> Iterator[list[R]]:
    """The records `size` at a time. Where the file breaks, the records read before the break
    come as a last batch, to be imported and checkpointed, and then the FormatError."""
    batch: list[R] = []
    try:
        for record in records:
            batch.append(record)
            if len(batch) == size:
                yield batch
                batch = []
    except FormatError:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def _checkpoint(run: ImportRun, line: int, results: list[RowResult], errors_size: int) -> None:
    counts = Totals()
    counts.add(results)
    ImportRun.objects.filter(pk=run.pk).update(
        line=line,
        rows=F("rows") + counts.rows,
        created=F("created") + counts.created,
        updated=F("updated") + counts.updated,
        unchanged=F("unchanged") + counts.unchanged,
        failed=F("failed") + counts.failed,
        errors_size=errors_size,
        updated_at=timezone.now(),
    )
    run.line = line


def _pipelined(batches: Iterator[list[B]], apply: Callable[[list[B]], None]) -> None:
    """Check batches in this thread while another thread, with its own connection, applies
    them in order; at most two checked batches wait."""
    waiting: queue.Queue = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            while (batch := waiting.get()) is not None:
                if not failure:
                    apply(batch)
        except BaseException as error:
            failure.append(error)
            while waiting.get() is not None:
                pass
        finally:
            connection.close()

    thread = threading.Thread(target=writer, name="import-writer", daemon=True)
    thread.start()
    try:
        for batch in batches:
            if failure:
                break
            waiting.put(batch)
    finally:
        waiting.put(None)
        thread.join()
    if failure:
        raise failure[0]
