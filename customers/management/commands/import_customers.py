import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crm.actors import Actor
from crm.models import Organization
from customers.transfer.columns import Catalog
from customers.transfer.engine import MODES
from customers.transfer.error_report import ErrorReport
from customers.transfer.reading import Reader
from customers.transfer.records import (
    FORMATS,
    FormatError,
    detect_format,
    file_digest,
    open_text,
    record_salt,
)
from customers.transfer.runs import (
    Progress,
    customers_import,
    import_run_start,
    import_settings_digest,
)


class Command(BaseCommand):
    help = (
        "Import customers from a CSV, JSON Lines or vendor file (.gz too; - for standard input). "
        "Rows that fail are skipped and reported; every other row is committed. Importing the "
        "same file again changes nothing, and an interrupted import resumes where it stopped. "
        "See docs/imports.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The file, or - for standard input.")
        parser.add_argument("--org", required=True, metavar="SLUG")
        parser.add_argument("--format", choices=FORMATS, help="Default: from the file name.")
        parser.add_argument("--mode", choices=MODES, default="upsert")
        parser.add_argument("--errors", metavar="FILE", help="Write the failed rows here (CSV).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check everything, write nothing."
        )
        parser.add_argument("--batch-size", type=int, default=2000, metavar="N")
        parser.add_argument(
            "--program", type=int, metavar="ID", help="Jericommerce: the programme to enrol in."
        )
        parser.add_argument("--quiet", action="store_true", help="No progress, only the summary.")

    def handle(
        self, *args, path, org, format, mode, errors, dry_run, batch_size, program, quiet, **options
    ):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization with slug {org!r}")
        if batch_size < 1:
            raise CommandError("--batch-size is at least 1")
        try:
            kind = format or detect_format(path)
            stream = open_text(path)
            content_digest = "" if path == "-" else file_digest(path)
        except FormatError as error:
            raise CommandError(str(error)) from None
        actor = Actor("system", f"import_customers {Path(path).name}")
        run, resumed = None, False
        if not dry_run:
            run, resumed = import_run_start(
                organization=organization,
                file_path=path,
                content_digest=content_digest,
                settings_digest=import_settings_digest(kind, program, mode),
                format=kind,
                mode=mode,
                errors_path=errors or "",
                actor=actor,
            )
            if resumed:
                self.stderr.write(f"Resuming the import of {path} after line {run.line:,}.")
        reader = Reader(
            stream,
            kind,
            record_salt(kind, program),
            name=path,
            catalog=Catalog.of(organization),
            program_id=program,
        )
        report = ErrorReport(errors, reader, run if resumed else None) if errors else None
        meter = Meter(self.stderr, stream, path, quiet=quiet)
        if run is not None and resumed:
            meter.done_before = run.rows

        def on_batch(progress: Progress) -> int:
            meter.show(progress)
            return report.write(progress) if report else 0

        started = time.monotonic()
        try:
            totals = customers_import(
                organization=organization,
                reader=reader,
                mode=mode,
                actor=actor,
                run=run,
                batch_size=batch_size,
                dry_run=dry_run,
                on_batch=on_batch,
            )
        except FormatError as error:
            raise CommandError(f"{error}; the rows before it are imported") from None
        finally:
            stream.close()
            if report:
                report.close()
            meter.finish()
        elapsed = time.monotonic() - started
        rate = totals.rows / elapsed if elapsed else 0
        what = "checked (dry run, nothing written)" if dry_run else "imported"
        self.stdout.write(
            f"{totals.rows:,} rows {what}: {totals.created:,} created, {totals.updated:,} "
            f"updated, {totals.unchanged:,} unchanged, {totals.failed:,} failed, in "
            f"{elapsed:.1f} s ({rate:,.0f} rows/s)."
        )
        if totals.failed and errors:
            self.stdout.write(f"The failed rows are in {errors}.")


class Meter:
    """Progress: a bar with rows/s and ETA on a terminal, a line every few seconds otherwise."""

    EVERY = 10.0

    def __init__(self, out, stream, path: str, *, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.terminal = hasattr(out, "isatty") and out.isatty()
        self.started = self.shown = time.monotonic()
        self.done_before = 0
        self.raw = getattr(stream, "buffer", None)
        self.size = Path(path).stat().st_size if path != "-" else 0
        self.compressed = getattr(self.raw, "fileobj", None)

    def fraction(self) -> float | None:
        stream = self.compressed or self.raw
        if not self.size or stream is None:
            return None
        try:
            return min(stream.tell() / self.size, 1.0)
        except (OSError, ValueError):
            return None

    def show(self, progress: Progress) -> None:
        now = time.monotonic()
        if self.quiet or (not self.terminal and now - self.shown < self.EVERY):
            return
        self.shown = now
        totals = progress.totals
        rate = totals.rows / max(now - self.started, 1e-9)
        fraction = self.fraction()
        text = (
            f"{self.done_before + totals.rows:,} rows, {rate:,.0f} rows/s "
            f"({totals.created:,} created, {totals.updated:,} updated, "
            f"{totals.unchanged:,} unchanged, {totals.failed:,} failed)"
        )
        if self.terminal:
            bar = ""
            if fraction is not None:
                width = 30
                filled = int(fraction * width)
                eta = (now - self.started) * (1 - fraction) / fraction if fraction else 0
                bar = f"[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} ETA {eta:,.0f} s  "
            self.out.write(f"\r{bar}{text}", ending="")
            self.out.flush()
        else:
            self.out.write(f"line {progress.line:,}: {text}")

    def finish(self) -> None:
        if self.terminal and not self.quiet:
            self.out.write("")
        sys.stderr.flush()
