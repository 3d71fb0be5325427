import csv
import gzip
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
from django.core.management.base import OutputWrapper
from django.core.management.color import color_style
from django.db import connection

from customers.inputs import CustomerInput
from customers.membership.update import customer_update
from customers.models import AuditEvent, Customer, ExtendedFieldDefinition, ImportRun
from customers.transfer import columns, engine
from customers.transfer.progress import Meter
from customers.transfer.runs import Progress, Totals
from loyalty.models import CustomerCard, Enrollment
from tests.compat.fixtures import examples, load
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory, IdentifierFactory, StatusLabelFactory
from tests.customers.test_bulk_upsert import state_of
from tests.loyalty.factories import ProgramFactory, StampCardFactory, TierFactory

ROOT = Path(__file__).resolve().parents[2]


def run(path, *args, **options):
    """The command's output; the tests of what an import does with a record that fails allow
    failures, and those of the exit status say allow_errors=False."""
    options.setdefault("allow_errors", True)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", str(path), *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def report(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def people(tmp_path):
    return write_csv(
        tmp_path / "people.csv",
        ["first_name", "last_name", "email", "phone", "external_id", "identifiers", "channels"],
        [
            ["Ann", "Lee", "Ann@Example.com", "98045 42631", "E1", "cardnumber:C-1", ""],
            ["Bo", "Ray", "bo@example", "", "E2", "", ""],
            [
                "Cy",
                "Zed",
                "cy@example.com",
                "+1 933 222 3333",
                "",
                "",
                "email:cy@example.com[primary]",
            ],
        ],
    )


def test_a_csv_is_imported_through_the_same_rules(org, people):
    out, _ = run(people, org="acme")

    assert "3 rows imported: 2 created, 0 updated, 0 unchanged, 1 failed" in out
    ann = Customer.objects.get(external_id="E1")
    assert (ann.email, ann.phone) == ("ann@example.com", "+919804542631")  # region IN
    assert list(ann.identifiers.values_list("source", "type", "value")) == [
        ("INSTORE", "cardnumber", "C-1")
    ]
    cy = Customer.objects.get(email="cy@example.com")
    assert cy.phone == "+19332223333"
    assert cy.channels.get().primary
    run_record = ImportRun.objects.get()
    assert (run_record.status, run_record.created, run_record.failed, run_record.line) == (
        "finished",
        2,
        1,
        4,
    )


def test_failed_rows_are_reported_with_their_line_field_and_row(org, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "first_name,email,phone,identifiers,ext.gender,programme\n"
        "Ann,ann@example.com,,,Female,\n"
        '"Multi\nline",bad@,,,,\n'
        "\n"
        "Cy,cy@example.com,12,,,\n"
        "Di,di@example.com,,nonsense,,\n"
        "Ed,ed@example.com,,,Robot,\n"
        "Fay,fay@example.com,,,,Gold Club\n"
        "Gus,gus@example.com\n",
        encoding="utf-8",
    )

    run(path, org="acme", errors=str(tmp_path / "errors.csv"))

    rows = report(tmp_path / "errors.csv")
    assert [(r["line"], r["field"], r["code"]) for r in rows] == [
        ("3", "email", "email_invalid"),
        ("6", "phone", "phone_invalid"),
        ("7", "identifiers", "invalid"),
        ("8", "ext.gender", "extended_field_enum"),
        ("9", "programme", "program_unknown"),
        ("10", "", "invalid"),
    ]
    assert rows[0]["first_name"] == "Multi\nline"  # the row as it was, under its own columns
    assert list(rows[0]) == [
        "line",
        "field",
        "code",
        "message",
        "first_name",
        "email",
        "phone",
        "identifiers",
        "ext.gender",
        "programme",
    ]
    assert Customer.objects.get().extended_fields == {"gender": "Female"}


def test_a_digit_that_int_refuses_in_a_number_column_is_a_row_error(org, tmp_path):
    ProgramFactory(organization=org, name="Club")
    ExtendedFieldDefinition.objects.create(organization=org, name="visits", data_type="integer")
    path = write_csv(
        tmp_path / "digits.csv",
        ["email", "programme", "tier", "points", "ext.visits"],
        [
            ["ann@example.com", "Club", "", "\u00b2", ""],
            ["bo@example.com", "", "", "", "\u00b2"],
            ["cy@example.com", "Club", "\u0663", "", ""],  # ARABIC-INDIC DIGIT THREE
            ["di@example.com", "", "", "", "9" * 5000],
            ["ed@example.com", "Club", "", "12", "4"],
        ],
    )

    out, _ = run(path, org="acme", errors=str(tmp_path / "errors.csv"))

    assert "5 rows imported: 1 created, 0 updated, 0 unchanged, 4 failed" in out
    assert [(r["line"], r["field"], r["code"]) for r in report(tmp_path / "errors.csv")] == [
        ("2", "points", "invalid"),
        ("3", "ext.visits", "extended_field_type"),
        ("4", "tier", "invalid"),
        ("5", "ext.visits", "extended_field_type"),
    ]
    assert Customer.objects.get().extended_fields == {"visits": 4}


def test_any_failure_reading_one_row_fails_that_row_alone(org, tmp_path, monkeypatch):
    channels = columns.channels_from_cell

    def breaks_on_fax(cell):
        if cell.startswith("fax"):
            raise RuntimeError("no fax")
        return channels(cell)

    monkeypatch.setattr(columns, "channels_from_cell", breaks_on_fax)
    path = write_csv(
        tmp_path / "fax.csv",
        ["email", "channels"],
        [["ann@example.com", ""], ["bo@example.com", "fax:123"], ["cy@example.com", ""]],
    )

    out, _ = run(path, org="acme", errors=str(tmp_path / "errors.csv"))

    assert "3 rows imported: 2 created, 0 updated, 0 unchanged, 1 failed" in out
    [row] = report(tmp_path / "errors.csv")
    assert (row["line"], row["code"]) == ("3", "invalid")
    assert "RuntimeError: no fax" in row["message"]


def test_a_failed_row_makes_the_exit_status_1_unless_errors_are_allowed(org, people, tmp_path):
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_customers", str(people), org="acme", stdout=out, stderr=io.StringIO())

    assert (raised.value.returncode, str(raised.value)) == (
        1,
        "1 of 3 rows failed (with --allow-errors the exit status is 0)",
    )
    assert "3 rows imported: 2 created, 0 updated, 0 unchanged, 1 failed" in out.getvalue()
    assert Customer.objects.count() == 2
    out, _ = run(people, "--allow-errors", org="acme")
    assert "1 failed" in out
    clean = write_csv(tmp_path / "clean.csv", ["email"], [["dee@example.com"]])
    out, _ = run(clean, org="acme", allow_errors=False)
    assert "1 created" in out


def test_a_resumed_import_fails_for_the_rows_that_failed_before_it_stopped(
    org, tmp_path, monkeypatch
):
    rows = [["bad@"], *([f"n{i}@example.com"] for i in range(1, 8))]
    path = write_csv(tmp_path / "late.csv", ["email"], rows)
    apply = engine.Importer.apply
    calls = []

    def crash_on_the_second_batch(self, batch):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return apply(self, batch)

    monkeypatch.setattr(engine.Importer, "apply", crash_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        run(path, org="acme", batch_size=4)
    monkeypatch.setattr(engine.Importer, "apply", apply)

    with pytest.raises(CommandError, match=r"^1 of 8 rows failed"):
        run(path, org="acme", batch_size=4, allow_errors=False)
    assert Customer.objects.count() == 7


def test_the_same_customer_twice_in_a_file_is_one_customer_updated_in_order(org, tmp_path):
    path = write_csv(
        tmp_path / "twice.csv",
        ["first_name", "email", "external_id"],
        [
            ["Ann", "ann@example.com", ""],
            ["Anne", "ANN@example.com", ""],
            ["Annie", "", "E9"],
            ["Anna", "", "E9"],
        ],
    )

    out, _ = run(path, org="acme")

    assert "2 created, 2 updated, 0 unchanged" in out
    assert sorted(Customer.objects.values_list("first_name", flat=True)) == ["Anna", "Anne"]


def test_a_row_whose_phone_or_identifier_is_another_persons_is_refused(org, tmp_path):
    ann = CustomerFactory(
        organization=org, email="ann@example.com", phone="+919804542631", first_name="Ann"
    )
    IdentifierFactory(source_account__customer=ann, type="cardnumber", value="C-1")
    path = write_csv(
        tmp_path / "collide.csv",
        ["first_name", "email", "phone", "identifiers"],
        [
            ["Bo", "bo@example.com", "98045 42631", ""],
            ["Cy", "cy@example.com", "", "cardnumber:C-1"],
            ["Di", "", "98045 42631", ""],  # no email: the phone finds Ann, as ever
        ],
    )

    out, _ = run(path, org="acme", errors=str(tmp_path / "errors.csv"))

    assert "0 created, 1 updated, 0 unchanged, 2 failed" in out
    rows = report(tmp_path / "errors.csv")
    assert [(r["line"], r["field"], r["code"]) for r in rows] == [
        ("2", "phone", "identifiers_conflict"),
        ("3", "identifiers", "identifiers_conflict"),
    ]
    assert all(ann.public_id in r["message"] and "email" in r["message"] for r in rows)
    ann.refresh_from_db()
    assert (ann.email, ann.first_name) == ("ann@example.com", "Di")


def test_importing_the_same_file_again_creates_and_changes_nothing(org, people):
    run(people, org="acme")
    state = state_of(org)
    events = AuditEvent.objects.count()

    out, _ = run(people, org="acme")

    assert "0 created, 0 updated, 2 unchanged, 1 failed" in out
    assert state_of(org) == state
    assert AuditEvent.objects.count() == events


def test_a_file_with_several_rows_for_one_customer_imported_again_changes_nothing(org, tmp_path):
    ProgramFactory(organization=org, name="Club")
    ProgramFactory(organization=org, name="Partners")
    path = write_csv(
        tmp_path / "twice.csv",
        ["first_name", "city", "email", "programme"],
        [
            ["Ann", "Pune", "ann@example.com", "Club"],
            ["Bo", "", "bo@example.com", ""],
            ["Anne", "", "ann@example.com", "Partners"],  # a second enrolment, as exported
        ],
    )
    out, _ = run(path, org="acme")
    assert "2 created, 1 updated, 0 unchanged" in out
    state = state_of(org)
    events = AuditEvent.objects.count()

    again, _ = run(path, org="acme")
    assert "0 created, 0 updated, 3 unchanged" in again
    assert state_of(org) == state
    assert AuditEvent.objects.count() == events

    # Changed since, the customer gets each row again, in order; the rerun after that, nothing.
    customer_update(
        customer=Customer.objects.get(first_name="Anne"), data=CustomerInput(city="Goa")
    )
    out, _ = run(path, org="acme")
    assert "0 created, 2 updated, 1 unchanged" in out
    assert Customer.objects.filter(first_name="Anne", city="Pune").exists()
    assert "0 created, 0 updated, 3 unchanged" in run(path, org="acme")[0]

    # Another file with one of those rows is not a rerun: its row is applied.
    write_csv(
        tmp_path / "one.csv",
        ["first_name", "city", "email", "programme"],
        [["Ann", "Pune", "ann@example.com", "Club"]],
    )
    out, _ = run(tmp_path / "one.csv", org="acme")
    assert "0 created, 1 updated, 0 unchanged" in out
    assert Customer.objects.filter(first_name="Ann").exists()


def test_modes(org, people):
    out, _ = run(people, org="acme", mode="update")
    assert "0 created, 0 updated, 0 unchanged, 3 failed" in out
    assert not Customer.objects.exists()

    run(people, org="acme", mode="create")
    customer_update(
        customer=Customer.objects.get(external_id="E1"), data=CustomerInput(first_name="Changed")
    )
    out, _ = run(people, org="acme", mode="create")
    assert "0 created, 0 updated, 1 unchanged, 2 failed" in out  # E1 exists and differs
    assert Customer.objects.get(external_id="E1").first_name == "Changed"

    out, _ = run(people, org="acme", mode="update")
    assert "0 created, 1 updated, 1 unchanged, 1 failed" in out
    assert Customer.objects.get(external_id="E1").first_name == "Ann"


def test_a_dry_run_checks_everything_and_writes_nothing(org, people, tmp_path):
    out, _ = run(people, org="acme", dry_run=True, errors=str(tmp_path / "errors.csv"))

    assert "3 rows checked (dry run, nothing written): 2 created, 0 updated" in out
    assert not Customer.objects.exists()
    assert not ImportRun.objects.exists()
    assert not AuditEvent.objects.exists()
    assert [r["line"] for r in report(tmp_path / "errors.csv")] == ["3"]


def test_loyalty_columns_enrol_and_carry_balances_and_stamps_over(org, tmp_path):
    program = ProgramFactory(organization=org, name="Club", welcome_points=10)
    TierFactory(program=program, number=1, name="Silver")
    TierFactory(program=program, number=2, name="Gold")
    StampCardFactory(organization=org, name="Coffee", initial_stamps=2)
    StoreFactory(organization=org, code="main.till")
    StatusLabelFactory(organization=org, name="vip", status="active")
    path = write_csv(
        tmp_path / "loyal.csv",
        [
            "email",
            "programme",
            "tier",
            "points",
            "card",
            "stamps",
            "store",
            "status_label",
            "custom.colour",
            "identifiers",
        ],
        [
            [
                "ann@example.com",
                "club",
                "2",
                "500",
                "Coffee",
                "7",
                "main.till",
                "VIP",
                "red",
                "LINE/acc1 line:U1;cardnumber:C-1",
            ],
            ["ann@example.com", "club", "1", "900", "Coffee", "9", "", "", "", ""],
        ],
    )

    out, _ = run(path, org="acme")

    assert "1 created, 0 updated, 1 unchanged" in out  # the second row finds it all there
    customer = Customer.objects.get()
    enrollment = Enrollment.objects.get(customer=customer)
    assert (enrollment.tier.number, enrollment.points_balance) == (2, 500)
    assert CustomerCard.objects.get(customer=customer).stamps == 7
    assert (customer.registered_store.code, customer.status_label.name) == ("main.till", "vip")
    assert customer.custom_fields == {"colour": "red"}
    assert sorted(customer.identifiers.values_list("source", "account_id", "type", "value")) == [
        ("INSTORE", "", "cardnumber", "C-1"),
        ("LINE", "acc1", "line", "U1"),
    ]


@pytest.fixture
def capillary_org(org):
    program = ProgramFactory(pk=469, organization=org, name="Loyalty")
    TierFactory(program=program, number=1, name="Silver")
    StoreFactory(organization=org, code="bukl.till")
    StatusLabelFactory(organization=org, name="active-1", status="active")
    return org


def test_capillary_register_bodies(capillary_org, tmp_path):
    bodies = [load("capillary", name) for name in examples("capillary", "*_register_*.json")]
    path = tmp_path / "capillary.json"
    path.write_text(json.dumps(bodies, indent=2))

    out, _ = run(path, org="acme", format="capillary", errors=str(tmp_path / "errors.csv"))

    # The sixth shares the fourth's card number in INSTORE: it is the same customer, updated.
    assert "6 rows imported: 5 created, 1 updated, 0 unchanged, 0 failed" in out
    assert Customer.objects.get(phone="+919804542631").extended_fields == {
        "gender": "Male",
        "city": "Bangalore",
    }
    assert Enrollment.objects.filter(program_id=469).count() == 2


def test_capillary_errors_are_named_as_capillary_names_them(capillary_org, tmp_path):
    body = load("capillary", "1_register_instore_mobile_email.json")
    body["profiles"][0]["commChannels"][1]["value"] = "not-an-email"
    path = tmp_path / "capillary.jsonl"
    path.write_text(json.dumps(body) + "\n")

    run(path, org="acme", format="capillary", errors=str(tmp_path / "errors.csv"))

    [row] = report(tmp_path / "errors.csv")
    assert (row["line"], row["field"]) == ("1", "profiles[0].commChannels[1].value")
    assert json.loads(row["record"]) == body


def test_jericommerce_items_enrol_in_the_programme_given(org, tmp_path):
    program = ProgramFactory(organization=org)
    items = [
        {"email": "ann@example.com", "feature": "users", "payload": {"externalCustomerId": "J1"}},
        {"email": "bo@example.com", "feature": "users", "payload": {"name": "Bo"}},
    ]
    path = tmp_path / "jeri.json"
    path.write_text(json.dumps(items))

    out, _ = run(
        path,
        org="acme",
        format="jericommerce",
        program=program.pk,
        errors=str(tmp_path / "errors.csv"),
    )

    assert "1 created, 0 updated, 0 unchanged, 1 failed" in out
    assert Enrollment.objects.get().customer.external_id == "J1"
    assert report(tmp_path / "errors.csv")[0]["field"] == "payload.externalCustomerId"


def test_voucherify_customers_as_json_lines(org, tmp_path):
    customer = load("voucherify", "create_customer.json")
    path = tmp_path / "voucherify.jsonl"
    path.write_text(json.dumps(customer) + "\n" + json.dumps({**customer, "name": "Robert"}) + "\n")

    out, _ = run(path, org="acme", format="voucherify")

    assert "1 created, 1 updated" in out
    imported = Customer.objects.get()
    assert (imported.external_id, imported.first_name, imported.city) == (
        "source_123",
        "Robert",
        "New York",
    )


def test_gzip_and_standard_input(org, people, monkeypatch):
    packed = people.with_suffix(".csv.gz")
    packed.write_bytes(gzip.compress(people.read_bytes()))
    out, _ = run(packed, org="acme")
    assert "2 created" in out

    Customer.objects.all().delete()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(people.read_bytes())))
    out, _ = run("-", org="acme", format="csv")
    assert "2 created" in out
    assert ImportRun.objects.filter(content_digest="").count() == 1  # not resumable


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("missing.csv", None, {}, "missing.csv: no such file"),
        ("people.xlsx", b"x", {}, "cannot tell the format"),
        ("people.csv", b"name,email\nAnn,a@example.com\n", {}, "unknown column(s) 'name'"),
        ("people.csv", b"", {}, "the file is empty"),
        ("people.csv", "email\ncaf\u00e9@example.com\n".encode("latin-1"), {}, "not UTF-8"),
        (
            "people.csv.gz",
            gzip.compress(b"email\n" + b"a@example.com\n" * 500, mtime=0)[:-20],
            {},
            "truncated or corrupt",
        ),
        ("people.json", b'[{"email": "a@example.com"},', {"format": "voucherify"}, "not closed"),
    ],
)
def test_bad_files_are_said_in_one_line(org, tmp_path, name, content, options, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(CommandError) as refused:
        run(path, org="acme", **options)

    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_quote_left_open_stops_at_its_line_after_importing_the_rows_before_it(org, tmp_path):
    rows = "".join(f"N{i},n{i}@example.com\n" for i in range(5)) + "Bad,bad@\n"
    runaway = "".join(f"M{i},m{i}@example.com\n" for i in range(8000))  # 160 KB
    path = tmp_path / "open-quote.csv"
    path.write_text(f'first_name,email\n{rows}"Open,open@example.com\n{runaway}')
    errors = tmp_path / "errors.csv"

    with pytest.raises(CommandError) as stopped:
        run(path, org="acme", batch_size=4, errors=str(errors))

    message = str(stopped.value)
    assert message.startswith("line 8: not readable as CSV from here (field larger than field")
    assert message.endswith("a quote left open?); the rows before it are imported")
    assert "\n" not in message
    assert Customer.objects.count() == 5  # a whole batch, and the part of one before line 8
    assert ImportRun.objects.get().line == 7
    assert [r["line"] for r in report(errors)] == ["7"]


def test_unknown_organization(db, people):
    with pytest.raises(CommandError, match="no organization with slug 'nope'"):
        run(people, org="nope")


def test_progress_lines_and_quiet(org, people, monkeypatch):
    monkeypatch.setattr("customers.management.commands.import_customers.Meter.EVERY", 0)
    _, err = run(people, org="acme", batch_size=1)
    assert err.count("rows/s") == 3

    _, err = run(people, org="acme", batch_size=1, quiet=True)
    assert err == ""


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_is_not_drawn_in_the_colour_of_errors(people):
    screen = Terminal()
    err = OutputWrapper(screen)
    err.style_func = color_style(force_color=True).ERROR  # a command's stderr on a terminal
    meter = Meter(err, io.StringIO(), str(people), quiet=False)

    meter.show(Progress(Totals(rows=3, created=3), line=4, results=[]))

    drawn = screen.getvalue()
    assert "3 rows" in drawn
    assert "\x1b[" not in drawn


def test_an_interrupted_import_resumes_where_it_stopped(org, tmp_path, monkeypatch):
    rows = [[f"N{i}", f"n{i}@example.com" if i % 4 else "bad@"] for i in range(20)]
    path = write_csv(tmp_path / "many.csv", ["first_name", "email"], rows)
    errors = tmp_path / "errors.csv"
    apply = engine.Importer.apply
    calls = []

    def crash_on_the_third_batch(self, batch):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return apply(self, batch)

    monkeypatch.setattr(engine.Importer, "apply", crash_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        run(path, org="acme", batch_size=4, errors=str(errors))
    assert Customer.objects.count() == 6  # two batches of four, two bad rows among them
    assert ImportRun.objects.get().line == 9

    monkeypatch.setattr(engine.Importer, "apply", apply)
    out, err = run(path, org="acme", batch_size=4, errors=str(errors))

    assert "Resuming the import of" in err
    assert "after line 9" in err
    assert "12 rows imported: 9 created" in out
    assert Customer.objects.count() == 15
    assert [r["line"] for r in report(errors)] == ["2", "6", "10", "14", "18"]


@pytest.mark.postgres_only(reason="the statistics are PostgreSQL's planner's")
def test_an_import_into_a_new_organization_brings_the_planner_statistics_up(
    org, other_org, tmp_path
):
    # Statistics taken while only another organization had customers would make the planner
    # expect one customer of this one, and scan them all for each key it looks up.
    CustomerFactory.create_batch(20, organization=other_org)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    rows = [[f"n{i}@example.com"] for i in range(20)]
    path = write_csv(tmp_path / "new.csv", ["email"], rows)

    run(path, org="acme", quiet=True)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_vals::text FROM pg_stats"
            " WHERE tablename = 'customers_customer' AND attname = 'organization_id'"
        )
        [known] = cursor.fetchone()
    assert str(org.pk) in known.strip("{}").split(",")


@pytest.mark.postgres_only(reason="the killed process must share the test database")
@pytest.mark.django_db(transaction=True)
def test_a_killed_import_process_resumes_to_the_rows_of_one_clean_run(tmp_path):
    from tests.crm.factories import OrganizationFactory

    OrganizationFactory(slug="acme", default_region="IN")
    OrganizationFactory(slug="clean", default_region="IN")
    # Every fiftieth row is refused; every twentieth updates a customer of a row before it.
    rows = [
        [f"N{i}", f"n{i}@example.com" if i % 50 else "bad@", f"E{i - 7 if i % 20 == 19 else i}"]
        for i in range(4000)
    ]
    path = write_csv(tmp_path / "big.csv", ["first_name", "email", "external_id"], rows)
    settings = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/"
        f"{settings['NAME']}",
    }
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "import_customers",
        str(path),
        "--org",
        "acme",
        "--batch-size",
        "200",
        "--errors",
        str(tmp_path / "errors.csv"),
    ]
    process = subprocess.Popen(  # noqa: S603 - the project's own command
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = ImportRun.objects.filter(organization__slug="acme").values_list("line", flat=True)
        if line and line[0] > 800:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted = ImportRun.objects.get(organization__slug="acme")
    assert interrupted.status == "running"
    assert 0 < interrupted.line < 4001

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
    assert "80 of 4,000 rows failed" in resumed.stderr
    assert clean.returncode == 0, clean.stderr
    acme, other = (Customer.objects.filter(organization__slug=slug) for slug in ("acme", "clean"))
    assert sorted(acme.values_list("first_name", "email", "external_id")) == sorted(
        other.values_list("first_name", "email", "external_id")
    )
    assert (tmp_path / "errors.csv").read_text() == (tmp_path / "clean.csv").read_text()
