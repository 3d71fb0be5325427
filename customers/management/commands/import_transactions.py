import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crm.actors import Actor
from crm.models import Organization
from customers.transfer.error_report import ErrorReport
from customers.transfer.progress import Meter
from customers.transfer.purchase_files import (
    BATCH_SIZE,
    PURCHASE_FORMATS,
    PurchaseReader,
    purchase_counts,
    purchase_settings_digest,
    transactions_import,
)
from customers.transfer.records import FormatError, detect_format, file_digest, open_text
from customers.transfer.runs import Progress, import_run_start


class Command(BaseCommand):
    help = (
        "Import purchases from a CSV or JSON Lines file (.gz too; - for standard input), each "
        "recorded and earning as POST /api/v1/transactions/ records one. Purchases that fail "
        "are skipped and reported; every other one is committed. A purchase recorded before is "
        "not recorded again, and an interrupted import resumes where it stopped. See "
        "docs/imports.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The file, or - for standard input.")
        parser.add_argument("--org", required=True, metavar="SLUG")
        parser.add_argument(
            "--format", choices=PURCHASE_FORMATS, help="Default: from the file name."
        )
        parser.add_argument(
            "--no-earn",
            action="store_true",
            help="Load the purchases as history: recorded, earning no points.",
        )
        parser.add_argument(
            "--errors", metavar="FILE", help="Write the failed purchases' rows here (CSV)."
        )
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, metavar="N")
        parser.add_argument("--quiet", action="store_true", help="No progress, only the summary.")
        parser.add_argument(
            "--allow-errors",
            action="store_true",
            help="Exit with status 0 even when purchases failed (by default, 1).",
        )

    def handle(
        self, *args, path, org, format, no_earn, errors, batch_size, quiet, allow_errors, **options
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
        if kind not in PURCHASE_FORMATS:
            raise CommandError(f"purchases are imported from {' or '.join(PURCHASE_FORMATS)}")
        earn = not no_earn
        actor = Actor("system", f"import_transactions {Path(path).name}")
        run, resumed = import_run_start(
            organization=organization,
            file_path=path,
            content_digest=content_digest,
            settings_digest=purchase_settings_digest(kind, earn=earn),
            format=kind,
            mode="earn" if earn else "no-earn",
            errors_path=errors or "",
            actor=actor,
        )
        if resumed:
            self.stderr.write(f"Resuming the import of {path} after line {run.line:,}.")
        reader = PurchaseReader(stream, kind, name=path)
        report = ErrorReport(errors, reader, run if resumed else None) if errors else None
        meter = Meter(
            self.stderr, stream, path, quiet=quiet, unit="purchases", counts=purchase_counts
        )
        if resumed:
            meter.done_before = run.rows

        def on_batch(progress: Progress) -> int:
            meter.show(progress)
            return report.write(progress) if report else 0

        started = time.monotonic()
        try:
            totals = transactions_import(
                organization=organization,
                reader=reader,
                actor=actor,
                run=run,
                earn=earn,
                batch_size=batch_size,
                on_batch=on_batch,
            )
        except FormatError as error:
            raise CommandError(f"{error}; the purchases before it are imported") from None
        finally:
            stream.close()
            if report:
                report.close()
            meter.finish()
        elapsed = time.monotonic() - started
        rate = totals.rows / elapsed if elapsed else 0
        self.stdout.write(
            f"{totals.rows:,} purchases imported: {purchase_counts(totals)}, in {elapsed:.1f} s "
            f"({rate:,.0f} purchases/s)."
        )
        if totals.failed and errors:
            self.stdout.write(f"The failed purchases are in {errors}.")
        # A resumed run's verdict covers the purchases its earlier attempts committed too.
        before = run if resumed else None
        failed = totals.failed + (before.failed if before else 0)
        if failed and not allow_errors:
            total = totals.rows + (before.rows if before else 0)
            raise CommandError(
                f"{failed:,} of {total:,} purchases failed "
                "(with --allow-errors the exit status is 0)"
            )
