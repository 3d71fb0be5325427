import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crm.actors import Actor
from crm.models import Organization
from customers.transfer.columns import Catalog
from customers.transfer.engine import MODES
from customers.transfer.error_report import ErrorReport
from customers.transfer.progress import Meter
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
        parser.add_argument(
            "--allow-errors",
            action="store_true",
            help="Exit with status 0 even when rows failed (by default, 1).",
        )

    def handle(
        self,
        *args,
        path,
        org,
        format,
        mode,
        errors,
        dry_run,
        batch_size,
        program,
        quiet,
        allow_errors,
        **options,
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
        # A resumed run's verdict covers the rows its earlier attempts committed too.
        before = run if run is not None and resumed else None
        failed = totals.failed + (before.failed if before else 0)
        if failed and not allow_errors:
            total = totals.rows + (before.rows if before else 0)
            raise CommandError(
                f"{failed:,} of {total:,} rows failed (with --allow-errors the exit status is 0)"
            )
