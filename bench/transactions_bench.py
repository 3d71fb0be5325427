"""Purchases at a million customers, each against a baseline measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench \\
        .venv/bin/python -m bench.transactions_bench --customers 1000000

Loads the benchmark organization up to --customers (bench/dataset.py, COPY), gives its programme
four earning rules (a base rate, a category multiplier, a tier multiplier and a cap per purchase)
and a store, serves the product with gunicorn (2 sync workers) and measures:

- requests/s of `POST /api/v1/transactions/` (a purchase of 5 lines by a random enrolled
  customer, a new external id each time) against a plain Django view that inserts the same
  purchase and lines with the ORM and nothing else, and against a second plain view that writes,
  in one transaction, the rows an earning purchase writes (its lines, three ledger rows with lots
  and audit events, the balance), in alternating rounds over loopback with wrk (apt-get install
  wrk); medians, and the product's as a ratio of each;
- the server-side time (the Server-Timing header) of `POST /api/v1/transactions/batch/` with 100
  such purchases, sequentially;
- `manage.py import_transactions` of --import-purchases purchases of 3 lines each (CSV, a separate
  process), loading history (`--no-earn`) and earning by the rules, beside a raw COPY of the same
  rows parsed from the same file into bare tables.
"""

import argparse
import csv
import datetime as dt
import http.client
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django
import psycopg

from bench.report import percentile, postgres_version
from bench.server import start_gunicorn

BASE_DIR = Path(__file__).resolve().parent.parent
PORT = 8002
STORE = "BENCH-1"
CATEGORIES = ["shoes", "bags", "socks", "hats", "belts"]
IMPORT_COLUMNS = [
    "external_id",
    "customer",
    "store",
    "occurred_at",
    "currency",
    "sku",
    "category",
    "quantity",
    "unit_price",
    "line_amount",
]
BARE_TABLES = """
    CREATE TABLE bare_purchase (
        id bigint PRIMARY KEY, external_id text, customer text, store text,
        occurred_at timestamptz, currency text);
    CREATE TABLE bare_line (
        id bigint PRIMARY KEY, purchase_id bigint, sku text, category text, quantity integer,
        unit_price numeric, line_amount numeric);
"""


def setup(customers: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from bench.dataset import organization_with_customers

    organization, _ = organization_with_customers(customers)
    return programme_with_rules(organization)


def programme_with_rules(organization) -> dict:
    """Four earning rules and a store on the benchmark programme; a sample of its members."""
    from crm.models import Store
    from customers.models import Customer
    from loyalty.models import Program
    from loyalty.services.earning_rules import earning_rule_create

    from .dataset import organization_for_bench

    Store.objects.get_or_create(organization=organization, code=STORE, defaults={"name": "Bench"})
    program = Program.objects.get(organization=organization, name="Bench Rewards")
    rules = [
        ("One point per 1.00", "base_rate", {"points": 1, "per": "1.00", "rounding": "down"}),
        ("Shoes double", "category_multiplier", {"category": "shoes", "multiplier": "2"}),
        ("Gold and a half", "tier_multiplier", {"tier": 2, "multiplier": "1.5"}),
        ("At most 5,000 a purchase", "transaction_cap", {"points": 5000}),
    ]
    if not program.earning_rules.exists():
        for priority, (name, kind, parameters) in enumerate(rules, start=1):
            earning_rule_create(
                program=program,
                name=name,
                kind=kind,
                parameters=parameters,
                priority=priority,
                active_from=None,
                active_until=None,
            )
    public_ids = list(
        Customer.objects.filter(organization=organization)
        .order_by("?")
        .values_list("public_id", flat=True)[:2000]
    )
    pks = list(Customer.objects.filter(public_id__in=public_ids).values_list("pk", flat=True))
    return {
        "organization_id": organization.pk,
        "program_id": program.pk,
        "api_key": organization_for_bench("bench")[3],
        "public_ids": public_ids,
        "pks": pks,
    }


def purchase_lines(rng: random.Random, count: int) -> list[dict]:
    lines = []
    for n in range(count):
        quantity = rng.randint(1, 3)
        price = f"{rng.randint(5, 200)}.{rng.randint(0, 99):02d}"
        lines.append(
            {
                "sku": f"SKU-{rng.randint(1, 5000)}",
                "category": CATEGORIES[n % len(CATEGORIES)],
                "quantity": quantity,
                "unit_price": price,
            }
        )
    return lines


def wrk_posts(path: str, headers: dict, bodies_lua: str, duration: int) -> float:
    """Requests a second for POSTs to `path`, each body built by `bodies_lua`'s `body(n)`
    with a number unique to the request; 2 threads, 8 connections."""
    script = bodies_lua + (
        "local counter = 0\n"
        "local headers = {"
        + ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items())
        + "}\n"
        "function setup(thread) thread:set('tid', math.random(1, 10^9)) end\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        f"  return wrk.format('POST', {json.dumps(path)}, headers, body(tid .. '-' .. counter))\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        out = subprocess.run(
            ["wrk", "-t2", "-c8", f"-d{duration}s", "-s", lua.name, f"http://127.0.0.1:{PORT}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    return float(out.split("Requests/sec:")[1].split()[0])


def body_lua(template: dict, customers: list, customer_key: str, run: str) -> str:
    """A Lua `body(n)` returning `template` as JSON with a new external id and a random
    customer from `customers`."""
    text = json.dumps({**template, "external_id": "EXTERNAL", customer_key: "CUSTOMER"})
    before, rest = text.split('"EXTERNAL"')
    middle, after = rest.split('"CUSTOMER"')
    return (
        "local customers = {" + ",".join(json.dumps(str(c)) for c in customers) + "}\n"
        "function body(n)\n"
        f"  return {json.dumps(before)} .. '\"{run}-' .. n .. '\"' .. {json.dumps(middle)}"
        " .. '\"' .. customers[math.random(#customers)] .. '\"' .. "
        f"{json.dumps(after)}\n"
        "end\n"
    )


def timed_post(connection, path: str, headers: dict, body: str) -> float:
    """Server-side milliseconds of one POST; every item of a batch must be created."""
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    content = response.read()
    if response.status >= 300:
        raise SystemExit(f"POST {path}: {response.status} {content[:500]}")
    statuses = {item["status"] for item in json.loads(content)["results"]}
    if statuses != {"created"}:
        raise SystemExit(f"batch items not all created: {content[:500]}")
    return float(response.getheader("Server-Timing").split("dur=")[1])


def write_import_file(path: Path, public_ids: list, purchases: int, run: str) -> int:
    """A CSV of `purchases` purchases of 3 lines each (a row a line); how many rows."""
    rng = random.Random(11)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(IMPORT_COLUMNS)
        for n in range(purchases):
            occurred = (start + dt.timedelta(seconds=n * 17)).isoformat()
            customer = public_ids[rng.randrange(len(public_ids))]
            for line in purchase_lines(rng, 3):
                writer.writerow(
                    [
                        f"{run}-{n}",
                        customer,
                        STORE,
                        occurred,
                        "EUR",
                        line["sku"],
                        line["category"],
                        line["quantity"],
                        line["unit_price"],
                        f"{float(line['unit_price']) * line['quantity']:.2f}",
                    ]
                )
                rows += 1
    return rows


def raw_copy(path: Path) -> float:
    """Seconds to parse the file and COPY its purchases and lines into bare tables, committed."""
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url) as connection:
        connection.execute("DROP TABLE IF EXISTS bare_purchase, bare_line")
        connection.execute(BARE_TABLES)
        connection.commit()
        started = time.perf_counter()
        with path.open(newline="", encoding="utf-8") as file, connection.cursor() as cursor:
            rows = csv.reader(file)
            next(rows)
            lines, previous, purchase_id = [], None, 0
            with cursor.copy("COPY bare_purchase FROM STDIN") as copy:
                for n, row in enumerate(rows):
                    external_id, customer, store, occurred, currency, *line = row
                    if external_id != previous:
                        purchase_id += 1
                        previous = external_id
                        copy.write_row(
                            (purchase_id, external_id, customer, store, occurred, currency)
                        )
                    lines.append((n, purchase_id, *line))
            with cursor.copy("COPY bare_line FROM STDIN") as copy:
                for line in lines:
                    copy.write_row(line)
        connection.commit()
        connection.execute("DROP TABLE bare_purchase, bare_line")
        connection.commit()
        return time.perf_counter() - started


def import_seconds(path: Path, *options: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "import_transactions",
            str(path),
            "--org",
            "bench",
            "--quiet",
            "--allow-errors",
            *options,
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "crm.config.settings"},
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"import_transactions failed:\n{done.stdout}\n{done.stderr}")
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "", file=sys.stderr)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--import-purchases", type=int, default=1_000_000)
    parser.add_argument("--earning-import-purchases", type=int, default=20_000)
    parser.add_argument("--no-import", action="store_true", help="Measure the API only.")
    args = parser.parse_args()

    data = setup(args.customers)
    run = f"r{int(time.time())}"
    auth = {"Authorization": f"Bearer {data['api_key']}", "Content-Type": "application/json"}
    rng = random.Random(5)
    template = {
        "occurred_at": "2026-06-01T12:00:00Z",
        "currency": "EUR",
        "store": STORE,
        "lines": purchase_lines(rng, 5),
    }
    plain = body_lua(
        {**template, "organization": data["organization_id"]}, data["pks"], "customer", run + "p"
    )
    plain_earning = body_lua(
        {**template, "organization": data["organization_id"], "program": data["program_id"]},
        data["pks"],
        "customer",
        run + "e",
    )
    product = body_lua(template, data["public_ids"], "customer", run + "a")
    scenarios = {
        "plain Django view (baseline)": ("/plain/transactions/", {}, plain),
        "plain view, the same rows": ("/plain/transactions-earning/", {}, plain_earning),
        "POST /api/v1/transactions/": ("/api/v1/transactions/", auth, product),
    }
    server = start_gunicorn(
        PORT,
        settings="bench.settings",
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    )
    try:
        for path, headers, lua in scenarios.values():  # warm up
            wrk_posts(path, headers, lua.replace(run, run + "w"), 2)
        rates = {name: [] for name in scenarios}
        for round_ in range(args.rounds):
            for name, (path, headers, lua) in scenarios.items():
                rates[name].append(
                    wrk_posts(path, headers, lua.replace(run, f"{run}{round_}"), args.duration)
                )

        connection = http.client.HTTPConnection("127.0.0.1", PORT)
        batches = []
        for b in range(args.batches):
            items = [
                {
                    **template,
                    "external_id": f"{run}-batch-{b}-{i}",
                    "customer": data["public_ids"][rng.randrange(len(data["public_ids"]))],
                    "lines": purchase_lines(rng, 5),
                }
                for i in range(100)
            ]
            body = json.dumps({"transactions": items})
            batches.append(timed_post(connection, "/api/v1/transactions/batch/", auth, body))
    finally:
        server.terminate()
        server.wait()

    imports = {}
    plans = [
        ("history (--no-earn)", args.import_purchases, ("--no-earn",)),
        ("earning by the rules", args.earning_import_purchases, ()),
    ]
    with tempfile.TemporaryDirectory() as folder:
        for label, purchases, options in [] if args.no_import else plans:
            path = Path(folder) / f"{label[:7]}.csv"
            rows = write_import_file(path, data["public_ids"], purchases, f"{run}-{label[:7]}")
            copy_seconds = raw_copy(path)
            seconds = import_seconds(path, *options)
            imports[label] = (purchases, rows, seconds, copy_seconds)
            path.unlink()

    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {postgres_version()}"
    )
    print(f"Customers in the benchmark organization: {args.customers:,}; 4 earning rules")
    print(
        f"\nA purchase of 5 lines (wrk, 2 threads, 8 connections, {args.rounds} rounds of "
        f"{args.duration}s; medians):"
    )
    baseline = statistics.median(rates["plain Django view (baseline)"])
    for name, values in rates.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:,.0f}" for v in values)
        print(f"  {name:30} {median:8,.0f} req/s  {median / baseline:6.0%} of plain   ({runs})")
    same_rows = statistics.median(rates["plain view, the same rows"])
    product_rate = statistics.median(rates["POST /api/v1/transactions/"])
    print(
        "  the product as a share of the plain view writing the same rows: "
        f"{product_rate / same_rows:.0%}"
    )
    print(
        f"\nBatch of 100 purchases, {len(batches)} calls: p50 {percentile(batches, 50):.0f} ms, "
        f"p95 {percentile(batches, 95):.0f} ms server-side"
    )
    print("\nimport_transactions, purchases of 3 lines (rows are lines):")
    for label, (purchases, rows, seconds, copy_seconds) in imports.items():
        print(
            f"  {label:22} {purchases:>9,} purchases in {seconds:7.1f} s: "
            f"{purchases / seconds:8,.0f} purchases/s, {rows / seconds:8,.0f} rows/s; "
            f"raw COPY {rows / copy_seconds:9,.0f} rows/s; "
            f"the import {copy_seconds / seconds:.1%} of it"
        )


if __name__ == "__main__":
    main()
