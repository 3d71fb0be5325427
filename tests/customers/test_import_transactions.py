"""manage.py import_transactions: a brand's purchase history from CSV or JSON Lines, recorded as
the API records purchases, with the customer import's error report, resumption and idempotency."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers.models import ImportRun
from customers.transfer import purchase_files
from loyalty.models import Enrollment, PointsTransaction
from loyalty.services import purchase_input
from loyalty.services.earning_rules import earning_rule_create
from loyalty.services.purchase_writer import HISTORY
from loyalty.transactions import Transaction, TransactionLine
from tests.crm.factories import OrganizationFactory, StoreFactory
from tests.customers.factories import IdentifierFactory
from tests.loyalty.factories import EnrollmentFactory, ProgramFactory, TransactionFactory

ROOT = Path(__file__).resolve().parents[2]
HEADER = [
    "external_id",
    "customer",
    "identifier_type",
    "identifier_value",
    "store",
    "occurred_at",
    "currency",
    "sku",
    "category",
    "quantity",
    "unit_price",
    "line_amount",
]
NOON = "2026-06-15T12:00:00Z"


def run(path, *args, **options):
    """The command's output; the tests of what an import does with a record that fails allow
    failures, and those of the exit status say allow_errors=False."""
    options.setdefault("allow_errors", True)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_transactions", str(path), *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def write_csv(path: Path, rows: list[list[str]], header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def report(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def make_rule(program, kind, name, **parameters):
    return earning_rule_create(
        program=program,
        name=name,
        kind=kind,
        parameters=parameters,
        priority=100,
        active_from=None,
        active_until=None,
    )


@pytest.fixture
def club(org):
    program = ProgramFactory(organization=org, name="Club")
    make_rule(program, "base_rate", "Base", points=1, per="1", rounding="down")
    make_rule(program, "first_purchase_bonus", "Welcome", points=10)
    return program


@pytest.fixture
def ann(club):
    return EnrollmentFactory(customer__organization=club.organization, program=club).customer


@pytest.fixture
def bo(club):
    customer = EnrollmentFactory(customer__organization=club.organization, program=club).customer
    IdentifierFactory(source_account__customer=customer, type="cardnumber", value="C-1")
    return customer


def row(external_id, customer, sku, price, *, card="", store="", currency="EUR", quantity="1"):
    return [
        external_id,
        customer,
        "cardnumber" if card else "",
        card,
        store,
        NOON,
        currency,
        sku,
        "shoes",
        quantity,
        price,
        "",
    ]


@pytest.fixture
def history(tmp_path, org, ann, bo):
    StoreFactory(organization=org, code="till-1")
    return write_csv(
        tmp_path / "history.csv",
        [
            row("T-1", ann.public_id, "A", "10.00"),
            row("T-1", ann.public_id, "B", "5.00", quantity="2"),
            row("T-1", "", "C", "1.00"),  # the purchase's columns may be left empty
            row("T-2", "", "A", "20.00", card="C-1", store="till-1"),
            row("T-3", "cust_nobody", "A", "1.00"),
        ],
    )


def balance(customer) -> int:
    return Enrollment.objects.get(customer=customer).points_balance


def test_a_csv_of_purchases_is_recorded_and_earns_as_the_api_does(org, ann, bo, history):
    out, _ = run(history, org="acme")

    assert "3 purchases imported: 2 recorded, 0 already recorded, 1 failed" in out
    first = Transaction.objects.get(external_id="T-1")
    assert (first.customer, first.total_amount, first.lines.count()) == (ann, 21, 3)
    second = Transaction.objects.get(external_id="T-2")
    assert (second.customer, second.store.code) == (bo, "till-1")
    assert (balance(ann), balance(bo)) == (21 + 10, 20 + 10)
    assert set(PointsTransaction.objects.values_list("reason", flat=True)) >= {
        "Welcome: First purchase"
    }
    run_record = ImportRun.objects.get()
    assert (run_record.status, run_record.mode, run_record.created, run_record.failed) == (
        "finished",
        "earn",
        2,
        1,
    )


def test_json_lines_are_api_bodies(org, ann, tmp_path):
    good = {
        "customer": ann.public_id,
        "external_id": "J-1",
        "occurred_at": NOON,
        "currency": "EUR",
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "12.50"}],
    }
    bad = {**good, "external_id": "J-2", "lines": [{"sku": "A", "quantity": 1, "unit_price": 1}]}
    path = tmp_path / "history.jsonl"
    path.write_text(
        "\n".join([json.dumps(good), json.dumps(bad), "{not json", json.dumps([1])]) + "\n"
    )

    out, _ = run(path, org="acme", errors=str(tmp_path / "errors.csv"))

    assert "4 purchases imported: 1 recorded, 0 already recorded, 3 failed" in out
    assert Transaction.objects.get().external_id == "J-1"
    rows = report(tmp_path / "errors.csv")
    assert [(r["line"], r["field"], r["code"]) for r in rows] == [
        ("2", "lines[0].unit_price", "invalid"),
        ("3", "", "invalid"),
        ("4", "", "invalid"),
    ]
    assert json.loads(rows[0]["record"]) == bad


def test_failed_purchases_are_reported_row_by_row_and_the_rest_is_imported(org, ann, bo, tmp_path):
    path = write_csv(
        tmp_path / "history.csv",
        [
            row("T-1", ann.public_id, "A", "10.00"),
            row("T-2", ann.public_id, "A", "1.00", store="nowhere"),
            row("T-3", ann.public_id, "A", "1.00", currency="eur"),
            row("T-4", ann.public_id, "A", "1.00"),
            row("T-4", ann.public_id, "B", "1.005"),
            row("T-5", ann.public_id, "A", "1.00"),
            row("T-5", bo.public_id, "B", "1.00"),
            row("T-6", "", "A", "1.00", card="nobody's"),
            row("T-7", ann.public_id, "A", "1.00", card="C-1"),
            ["T-8", ann.public_id, "too few cells"],
            row("T-9", ann.public_id, "A\x00", "1.00"),
            row("T-10", ann.public_id, "A", "1.00", quantity="0"),
            row("T-11", bo.public_id, "A", "3.00"),
        ],
    )
    errors = tmp_path / "errors.csv"

    out, _ = run(path, org="acme", errors=str(errors))

    assert "11 purchases imported: 2 recorded, 0 already recorded, 9 failed" in out
    assert f"The failed purchases are in {errors}" in out
    rows = report(errors)
    assert [(r["line"], r["field"], r["code"]) for r in rows] == [
        ("3", "store", "store_unknown"),
        ("4", "currency", "invalid"),
        ("5", "unit_price", "invalid"),
        ("6", "unit_price", "invalid"),  # every row of the purchase, each under its line
        ("7", "customer", "invalid"),
        ("8", "customer", "invalid"),
        ("9", "identifier_value", "not_found"),
        ("10", "customer", "invalid"),
        ("11", "", "invalid"),
        ("12", "sku", "invalid"),
        ("13", "quantity", "invalid"),
    ]
    assert list(rows[0]) == ["line", "field", "code", "message", *HEADER]
    assert rows[2]["unit_price"] == "1.00"  # the purchase's rows as they were
    assert rows[3]["unit_price"] == "1.005"
    assert "EUR amounts have at most 2 decimals" in rows[2]["message"]
    assert "different values" in rows[4]["message"]
    assert "line 11" in rows[8]["message"].lower()
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == ["T-1", "T-11"]


def test_a_failed_purchase_makes_the_exit_status_1_unless_errors_are_allowed(org, ann, history):
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "import_transactions", str(history), org="acme", stdout=out, stderr=io.StringIO()
        )

    assert (raised.value.returncode, str(raised.value)) == (
        1,
        "1 of 3 purchases failed (with --allow-errors the exit status is 0)",
    )
    assert "3 purchases imported: 2 recorded, 0 already recorded, 1 failed" in out.getvalue()
    out, _ = run(history, "--allow-errors", org="acme")
    assert "1 failed" in out


def test_importing_the_same_file_again_records_nothing_new(org, ann, bo, history):
    run(history, org="acme")
    balances = (balance(ann), balance(bo))

    out, _ = run(history, org="acme")

    assert "3 purchases imported: 0 recorded, 2 already recorded, 1 failed" in out
    assert Transaction.objects.count() == 2
    assert TransactionLine.objects.count() == 4
    assert (balance(ann), balance(bo)) == balances
    assert list(ImportRun.objects.values_list("status", flat=True)) == ["finished"] * 2


def test_a_purchase_the_api_recorded_is_already_recorded(api, org, ann, history):
    body = {
        "customer": ann.public_id,
        "external_id": "T-1",
        "occurred_at": NOON,
        "currency": "EUR",
        "lines": [{"sku": "Z", "quantity": 1, "unit_price": "99.00"}],
    }
    assert api.post("/api/v1/transactions/", body, format="json").status_code == 201

    out, _ = run(history, org="acme")

    assert "2 purchases imported" not in out
    assert "1 recorded, 1 already recorded, 1 failed" in out
    assert Transaction.objects.get(external_id="T-1").total_amount == 99


def test_without_earning_purchases_are_loaded_as_history(api, org, ann, bo, history):
    out, _ = run(history, "--no-earn", org="acme")

    assert "2 recorded" in out
    assert not PointsTransaction.objects.exists()
    assert set(Transaction.objects.values_list("earning_withheld", flat=True)) == {HISTORY}
    assert ImportRun.objects.get().mode == "no-earn"
    # A purchase the API records next is not the customer's first.
    later = {
        "customer": ann.public_id,
        "external_id": "T-9",
        "occurred_at": NOON,
        "currency": "EUR",
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "5.00"}],
    }
    reply = api.post("/api/v1/transactions/", later, format="json").json()
    assert reply["points"] == 5
    # Sent again through the API, a purchase loaded as history says why it earned nothing.
    again = api.post(
        "/api/v1/transactions/",
        {**later, "external_id": "T-2", "customer": bo.public_id},
        format="json",
    ).json()
    assert (again["points"], again["warnings"][0]["message"]) == (0, HISTORY)


def test_an_interrupted_import_resumes_where_it_stopped(org, ann, tmp_path, monkeypatch):
    rows = []
    for index in range(10):
        price = "1.00" if index % 4 else "1.001"  # every fourth purchase is refused
        rows += [row(f"T-{index}", ann.public_id, "A", price), row(f"T-{index}", "", "B", "1.00")]
    path = write_csv(tmp_path / "history.csv", rows)
    errors = tmp_path / "errors.csv"
    record = purchase_files.purchases_record
    calls = []

    def crash_on_the_third_batch(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return record(**kwargs)

    monkeypatch.setattr(purchase_files, "purchases_record", crash_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        run(path, org="acme", batch_size=3, errors=str(errors))
    assert Transaction.objects.count() == 4  # two batches of three, two refused among them
    assert ImportRun.objects.get().line == 12  # where the sixth purchase starts

    monkeypatch.setattr(purchase_files, "purchases_record", record)
    out, err = run(path, org="acme", batch_size=3, errors=str(errors))

    assert "Resuming the import of" in err
    assert "after line 12" in err
    assert "4 purchases imported: 3 recorded, 0 already recorded, 1 failed" in out
    assert Transaction.objects.count() == 7
    assert [r["line"] for r in report(errors)] == ["2", "3", "10", "11", "18", "19"]


def test_what_breaks_unforeseen_on_one_purchase_fails_it_alone(org, ann, history, monkeypatch):
    clean = purchase_input.clean_purchase

    def breaking(item):
        if item.external_id == "T-2":
            raise RuntimeError("boom")
        return clean(item)

    monkeypatch.setattr(purchase_input, "clean_purchase", breaking)
    out, _ = run(history, org="acme", errors=str(history.with_name("errors.csv")))

    assert "1 recorded, 0 already recorded, 2 failed" in out
    [broken] = [r for r in report(history.with_name("errors.csv")) if r["external_id"] == "T-2"]
    assert (broken["code"], broken["field"]) == ("invalid", "")
    assert "RuntimeError: boom" in broken["message"]


def test_each_batch_is_written_set_wise(org, club, tmp_path, django_assert_max_num_queries):
    customers = [
        EnrollmentFactory(customer__organization=org, program=club).customer for _ in range(50)
    ]
    rows = [
        row(f"T-{i}-{n}", customers[i].public_id, f"S-{line}", "2.00")
        for i in range(50)
        for n in range(4)
        for line in range(3)
    ]
    path = write_csv(tmp_path / "history.csv", rows)

    with django_assert_max_num_queries(40):
        out, _ = run(path, org="acme", batch_size=200, quiet=True)

    assert "200 purchases imported: 200 recorded" in out
    assert PointsTransaction.objects.count() == 200 + 50  # a base award each, a first bonus
    assert TransactionLine.objects.count() == 600


def test_bad_files_and_options_are_said_in_one_line(org, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [], header=["external_id", "colour"])
    with pytest.raises(CommandError, match="unknown column"):
        run(path, org="acme")
    path = write_csv(tmp_path / "bad.csv", [], header=["external_id", "customer"])
    with pytest.raises(CommandError, match="lacks the column"):
        run(path, org="acme")
    with pytest.raises(CommandError, match="cannot tell the format"):
        run(tmp_path / "history.json", org="acme")
    with pytest.raises(CommandError, match="no organization"):
        run(path, org="nope")


def test_progress_lines_and_quiet(org, history, monkeypatch):
    monkeypatch.setattr("customers.transfer.progress.Meter.EVERY", 0)
    _, err = run(history, org="acme", batch_size=1)
    assert err.count("purchases/s") == 3
    assert "already recorded" in err

    _, err = run(history, org="acme", batch_size=1, quiet=True)
    assert err == ""


@pytest.mark.postgres_only(reason="the killed process must share the test database")
@pytest.mark.django_db(transaction=True)
def test_a_killed_import_process_resumes_to_the_purchases_of_one_clean_run(tmp_path):
    customers = {}
    for slug in ("acme", "clean"):
        org = OrganizationFactory(slug=slug, default_region="IN")
        program = ProgramFactory(organization=org)
        make_rule(program, "base_rate", "Base", points=1, per="1", rounding="down")
        enrollments = [
            EnrollmentFactory(customer__organization=org, program=program) for _ in range(20)
        ]
        for index, enrollment in enumerate(enrollments):
            IdentifierFactory(
                source_account__customer=enrollment.customer, type="cardnumber", value=f"C-{index}"
            )
        customers[slug] = [e.customer for e in enrollments]
    rows = []
    for index in range(1500):  # every fiftieth refused
        price = "3.00" if index % 50 else "3.001"
        for sku in ("A", "B"):
            rows.append(row(f"T-{index}", "", sku, price, card=f"C-{index % 20}"))
    path = write_csv(tmp_path / "big.csv", rows)
    settings = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/"
        f"{settings['NAME']}",
    }
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "import_transactions",
        str(path),
        "--org",
        "acme",
        "--batch-size",
        "100",
        "--errors",
        str(tmp_path / "errors.csv"),
    ]
    process = subprocess.Popen(  # noqa: S603 - the project's own command
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = ImportRun.objects.filter(organization__slug="acme").values_list("line", flat=True)
        if line and line[0] > 600:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted = ImportRun.objects.get(organization__slug="acme")
    assert interrupted.status == "running"

    def finish(command):
        return subprocess.run(  # noqa: S603 - the project's own command
            command, env=env, cwd=ROOT, capture_output=True, text=True, check=False
        )

    resumed = finish(command)
    clean = finish(
        [
            *command[:5],
            "clean",
            *command[6:8],
            "--errors",
            str(tmp_path / "clean.csv"),
            "--allow-errors",
        ]
    )

    assert "Resuming the import" in resumed.stderr
    # The failures of the killed attempt count with those after it.
    assert resumed.returncode == 1
    assert "30 of 1,500 purchases failed" in resumed.stderr
    assert clean.returncode == 0, clean.stderr

    def told(slug):
        return [
            (
                Enrollment.objects.get(customer=customer).points_balance,
                sorted(
                    Transaction.objects.filter(customer=customer).values_list(
                        "external_id", "total_amount"
                    )
                ),
            )
            for customer in customers[slug]
        ]

    assert told("acme") == told("clean")
    assert Transaction.objects.filter(organization__slug="acme").count() == 1470
    assert (tmp_path / "errors.csv").read_text() == (tmp_path / "clean.csv").read_text()


@pytest.mark.postgres_only(reason="the statistics are PostgreSQL's planner's")
def test_an_import_brings_the_planner_statistics_of_the_purchase_tables_up(
    tmp_path, org, other_org, ann
):
    # Statistics taken while only another organization had purchases would make the planner
    # expect none of this one's, and plan the batch's lookups for that.
    theirs = EnrollmentFactory(customer__organization=other_org).customer
    for n in range(20):
        TransactionFactory(organization=other_org, customer=theirs, external_id=f"O-{n}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE loyalty_transaction")
    path = write_csv(
        tmp_path / "ours.csv", [row(f"T-{n}", ann.public_id, "A", "1.00") for n in range(20)]
    )

    run(path, org="acme", quiet=True)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_vals::text FROM pg_stats"
            " WHERE tablename = 'loyalty_transaction' AND attname = 'organization_id'"
        )
        [known] = cursor.fetchone()
    assert str(org.pk) in known.strip("{}").split(",")
