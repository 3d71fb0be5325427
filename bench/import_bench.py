"""Bulk import and export at a million customers, each against a baseline measured in the same run.

    .venv/bin/python -m bench.import_bench --rows 1000000

Recreates the PostgreSQL database --database (default crm_import_bench) on 127.0.0.1:5432, writes
a realistic CSV file (bench/import_data.py: two identifiers and one channel per customer,
10 % repeats of earlier rows, 1 % invalid rows), and measures:

- raw COPY: the same rows parsed from the same file and COPY'd into bare tables (customers,
  identifiers, channels; primary keys only): the physical limit;
- the product's tables alone: the imported customers written again, with their source accounts,
  identifiers and channels, by one INSERT … SELECT per table (no Python, every index, constraint and
  foreign key of the real schema): what PostgreSQL itself needs;
- the first import (`manage.py import_customers`, a separate process: wall time and peak RSS),
  also of the file's first tenth, to compare peak RSS;
- the same file imported again, unchanged;
- a per-row `update_or_create` import of the file's first --baseline-rows rows;
- `manage.py export_customers` of every customer, as CSV and as JSON Lines.

The short measurements run --rounds times and report the median.
"""

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
SERVER = "postgres://postgres@127.0.0.1:5432"
BARE_TABLES = """
    CREATE TABLE bare_customer (
        id bigint PRIMARY KEY, first_name text, last_name text, email text, phone text,
        birthday date, external_id text, source text);
    CREATE TABLE bare_identifier (id bigint PRIMARY KEY, customer_id bigint, type text, value text);
    CREATE TABLE bare_channel (
        id bigint PRIMARY KEY, customer_id bigint, type text, value text, "primary" boolean);
"""


def recreate_database(name: str) -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def manage(*args: str, env: dict) -> tuple[float, int, str]:
    """Run a management command in its own process: seconds, peak RSS in MB, its output.

    The peak is the process's own high-water mark (VmHWM), read while it runs: getrusage's
    figure for a child counts the memory of the process that forked it.
    """
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        peak = 0
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read()
    if process.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{text}")
    return seconds, peak // 1024, text


def raw_copy(url: str, path: Path) -> float:
    """Seconds to parse the file and COPY its rows into bare tables, committed."""
    with psycopg.connect(url) as connection:
        connection.execute("DROP TABLE IF EXISTS bare_customer, bare_identifier, bare_channel")
        connection.execute(BARE_TABLES)
        connection.commit()
        started = time.perf_counter()
        with path.open(newline="", encoding="utf-8") as file, connection.cursor() as cursor:
            rows = csv.reader(file)
            next(rows)
            identifier_id = channel_id = 0
            identifiers, channels = [], []
            with cursor.copy("COPY bare_customer FROM STDIN") as copy:
                for n, row in enumerate(rows):
                    first, last, email, phone, birthday, external_id, source, ids, chans = row
                    copy.write_row((n, first, last, email, phone, birthday, external_id, source))
                    for spec in ids.split(";"):
                        type_, value = spec.split(":", 1)
                        identifier_id += 1
                        identifiers.append((identifier_id, n, type_, value))
                    for spec in chans.split(";"):
                        type_, rest = spec.split(":", 1)
                        channel_id += 1
                        channels.append((channel_id, n, type_, rest.split("[")[0], "[" in rest))
            with cursor.copy("COPY bare_identifier FROM STDIN") as copy:
                for row in identifiers:
                    copy.write_row(row)
            with cursor.copy("COPY bare_channel FROM STDIN") as copy:
                for row in channels:
                    copy.write_row(row)
        connection.commit()
        return time.perf_counter() - started


def schema_only(url: str, org: int, copy_org: int) -> tuple[float, int]:
    """Seconds for PostgreSQL alone to write the customers of organization `org` again, as
    organization `copy_org`'s, into the product's tables; and how many customers that is."""
    tables = [
        ("customers_customer", None),
        ("customers_sourceaccount", "customer_id"),
        ("customers_identifier", "customer_id"),
        ("customers_commchannel", "customer_id"),
    ]
    with psycopg.connect(url) as connection:
        offsets = {
            table: connection.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
            for table, _ in tables
        }
        connection.commit()
        replaced = {
            "id": "{table_offset} + id",
            "organization_id": f"{copy_org}",
            "customer_id": f"{offsets['customers_customer']} + customer_id",
            "source_account_id": f"{offsets['customers_sourceaccount']} + source_account_id",
            "public_id": "'cusb_' || substr(public_id, 6)",
            "referred_by_id": "NULL",
        }
        statements = []
        for table, via in tables:
            columns = [
                name
                for (name,) in connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                    " ORDER BY ordinal_position",
                    [table],
                )
            ]
            values = [
                replaced.get(name, f'"{name}"').format(table_offset=offsets[table])
                for name in columns
            ]
            where = (
                f"organization_id = {org}"
                if via is None
                else f"{via} IN (SELECT id FROM customers_customer WHERE organization_id = {org})"
            )
            quoted = ", ".join(f'"{name}"' for name in columns)
            statements.append(  # table and column names from the catalogue, ids are numbers
                f"INSERT INTO {table} ({quoted})"
                f" SELECT {', '.join(values)} FROM {table} WHERE {where}"
            )
        started = time.perf_counter()
        for statement in statements:
            connection.execute(statement)
        connection.commit()
        seconds = time.perf_counter() - started
        customers = connection.execute(
            "SELECT count(*) FROM customers_customer WHERE organization_id = %s", [copy_org]
        ).fetchone()[0]
        for table, _ in tables:  # later inserts take ids from the sequences
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        connection.commit()
    return seconds, customers


def update_or_create_import(path: Path, slug: str, rows: int) -> float:
    """Seconds for the textbook per-row import: normalise, then update_or_create each object."""
    from django.db import IntegrityError, transaction

    from crm.errors import DomainError
    from crm.models import Organization
    from customers.models import CommChannel, Customer, Identifier, SourceAccount
    from customers.normalization import normalize_email, normalize_phone
    from customers.services.registration import unused_referral_codes

    organization = Organization.objects.create(slug=slug, name=slug, default_region="IN")
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as file:
        for row in islice(csv.DictReader(file), rows):
            try:
                with transaction.atomic():
                    email = normalize_email(row["email"])
                    phone = normalize_phone(row["phone"], region=organization.default_region)
                    customer, _ = Customer.objects.update_or_create(
                        organization=organization,
                        external_id=row["external_id"],
                        defaults={
                            "first_name": row["first_name"],
                            "last_name": row["last_name"],
                            "email": email,
                            "phone": phone,
                            "birthday": row["birthday"],
                        },
                        create_defaults={
                            "first_name": row["first_name"],
                            "last_name": row["last_name"],
                            "email": email,
                            "phone": phone,
                            "birthday": row["birthday"],
                            "referral_code": unused_referral_codes(organization, 1)[0],
                        },
                    )
                    account, _ = SourceAccount.objects.get_or_create(
                        customer=customer, source=row["source"], account_id=""
                    )
                    for spec in row["identifiers"].split(";"):
                        type_, value = spec.split(":", 1)
                        Identifier.objects.update_or_create(
                            organization=organization,
                            source=account.source,
                            account_id="",
                            type=type_,
                            value=value,
                            defaults={"customer": customer, "source_account": account},
                        )
                    for spec in row["channels"].split(";"):
                        type_, rest = spec.split(":", 1)
                        CommChannel.objects.update_or_create(
                            customer=customer,
                            type=type_,
                            value=rest.split("[")[0],
                            defaults={"primary": "[primary]" in rest},
                        )
            except (DomainError, IntegrityError):
                pass
    return time.perf_counter() - started


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s ({seconds:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="crm_import_bench")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the files here")
    options = parser.parse_args()

    from bench.import_data import write

    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="import-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    big, small = workdir / "customers.csv", workdir / "customers-tenth.csv"
    made = write(big, options.rows)
    write(small, options.rows // 10)  # the same generator: the first tenth of the big file
    print(
        f"file: {made['rows']:,} rows, {made['customers']:,} customers,"
        f" {made['repeats']:,} repeats, {made['invalid']:,} invalid;"
        f" {big.stat().st_size / 2**20:.0f} MB"
    )

    url = recreate_database(options.database)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0", "SECRET_KEY": "bench" * 10}
    env["ALLOWED_HOSTS"] = "localhost"
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from crm.models import Organization

    call_command("migrate", verbosity=0)
    for slug in ("bench", "bench-tenth"):
        Organization.objects.create(slug=slug, name=slug, default_region="IN")

    with psycopg.connect(url) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, PostgreSQL {version}"
    )
    figures: dict[str, float] = {}

    copies = [raw_copy(url, big) for _ in range(options.rounds)]
    figures["copy"] = statistics.median(copies)
    print(f"raw COPY into bare tables: {rate(options.rows, figures['copy'])}", end="")
    print(f"  [rounds: {', '.join(f'{s:.1f}' for s in copies)} s]")

    _, tenth_rss, _ = manage(
        "import_customers", str(small), "--org", "bench-tenth", "--quiet", "--allow-errors", env=env
    )
    errors = workdir / "errors.csv"
    seconds, rss, summary = manage(
        "import_customers",
        str(big),
        "--org",
        "bench",
        "--errors",
        str(errors),
        "--allow-errors",
        env=env,
    )
    figures["import"] = seconds
    print(f"first import: {rate(options.rows, seconds)}")
    print("  " + next(line for line in summary.splitlines() if "rows imported" in line).strip())
    print(f"  {figures['copy'] / seconds:.1%} of the raw COPY rate")
    print(
        f"peak RSS: {tenth_rss} MB importing {options.rows // 10:,} rows,"
        f" {rss} MB importing {options.rows:,} rows"
    )

    again = [
        manage(
            "import_customers", str(big), "--org", "bench", "--quiet", "--allow-errors", env=env
        )[0]
        for _ in range(options.rounds)
    ]
    figures["again"] = statistics.median(again)
    print(f"re-import, unchanged: {rate(options.rows, figures['again'])}", end="")
    print(f"  [rounds: {', '.join(f'{s:.1f}' for s in again)} s]")

    baseline = update_or_create_import(big, "bench-per-row", options.baseline_rows)
    baseline_rate = options.baseline_rows / baseline
    print(
        f"per-row update_or_create, first {options.baseline_rows:,} rows: "
        f"{rate(options.baseline_rows, baseline)}; first import is"
        f" {options.rows / figures['import'] / baseline_rate:.1f}x that"
    )

    for export_format in ("csv", "jsonl"):
        out = workdir / f"export.{export_format}"
        rounds = options.rounds if export_format == "csv" else 1
        runs = [
            manage(
                "export_customers",
                "--org",
                "bench",
                "--format",
                export_format,
                "--output",
                str(out),
                env=env,
            )
            for _ in range(rounds)
        ]
        median = statistics.median(seconds for seconds, _, _ in runs)
        lines = sum(1 for _ in out.open(encoding="utf-8")) - (export_format == "csv")
        print(
            f"export {export_format}: {lines:,} lines in {median:.1f} s,"
            f" peak RSS {max(rss for _, rss, _ in runs)} MB"
            f"  [rounds: {', '.join(f'{s:.1f}' for s, _, _ in runs)} s]"
        )

    copy_org = Organization.objects.create(slug="bench-again", name="again", default_region="IN")
    bench_org = Organization.objects.get(slug="bench")
    seconds, customers = schema_only(url, bench_org.pk, copy_org.pk)
    print(
        f"the product's tables alone (INSERT … SELECT of {customers:,} imported customers with"
        f" their accounts, identifiers and channels): {customers / seconds:,.0f} customers/s"
        f" ({seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
