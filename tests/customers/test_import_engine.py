"""An import gives exactly what customer_upsert gives, record after record; again, nothing."""

import csv
import io

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from crm.actors import SYSTEM
from crm.errors import DomainError
from customers.membership.upsert import customer_upsert
from customers.models import Customer
from customers.transfer.columns import Catalog
from customers.transfer.reading import Reader
from customers.transfer.runs import customers_import
from tests.crm.factories import OrganizationFactory
from tests.customers.test_bulk_upsert import state_of

HEADER = ["first_name", "email", "phone", "external_id", "source", "identifiers", "channels"]
# Small pools, so that rows collide with each other and with existing customers; a few invalid
# values, so that refusals are mixed in.
rows = st.tuples(
    st.sampled_from(["Ann", "Bo", "Cy", ""]),
    st.sampled_from(["", "", "a@example.com", "A@Example.com", "b@example.com", "bad"]),
    st.sampled_from(["", "", "+919804542631", "98045 42631", "+918795779625", "12"]),
    st.sampled_from(["", "", "E1", "E2"]),
    st.sampled_from(["", "INSTORE", "LINE"]),
    st.sampled_from(
        [
            "",
            "cardnumber:C-1",
            "cardnumber:C-2",
            "email:a@example.com;cardnumber:C-1",
            "LINE/acc line:U1",
            "mobile:9804542631",
            "nonsense",
        ]
    ),
    st.sampled_from(["", "email:a@example.com[primary]", "mobile:9804542631[primary|verified]"]),
).map(list)


def csv_text(lines: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(lines)
    return out.getvalue()


def reader(organization, text: str) -> Reader:
    return Reader(io.StringIO(text), "csv", "csv:", catalog=Catalog.of(organization))


def imported(organization, text: str) -> list[tuple]:
    outcomes: list[tuple] = []

    def collect(progress):
        for result in progress.results:
            error = result.error
            outcomes.append(
                (result.outcome.value, str(error.code), result.record.field_name(error.field))
                if error
                else (result.outcome.value,)
            )
        return 0

    customers_import(
        organization=organization,
        reader=reader(organization, text),
        mode="upsert",
        actor=SYSTEM,
        run=None,
        batch_size=3,  # small, so that records meet across batches too
        on_batch=collect,
    )
    return outcomes


def one_by_one(organization, text: str) -> list[tuple]:
    """customer_upsert record after record, with the import's one shortcut (docs/imports.md): a
    record with the very text of the one that last wrote its customer, who has not changed
    since, is unchanged without a look."""
    read = reader(organization, text)
    outcomes = []
    last_write: dict[int, tuple[str, object]] = {}  # customer → (record text, its updated_at)

    def stamp(customer_id):
        return Customer.objects.filter(pk=customer_id).values_list("updated_at", flat=True).first()

    for record in read.records():
        text_of = "\x1f".join(record.original)
        if any(t == text_of and when == stamp(c) for c, (t, when) in last_write.items()):
            outcomes.append(("unchanged",))
            continue
        read.load(record)
        try:
            if record.error:
                raise record.error
            # no email, phone, id, identifier
            if not any(record.original[1:4]) and not record.original[5]:
                outcomes.append(("failed", "required", "email"))
                continue
            result = customer_upsert(organization=organization, data=record.data, actor=SYSTEM)
        except DomainError as error:
            outcomes.append(("failed", str(error.code), record.field_name(error.field)))
            continue
        customer_id = result.customer.pk
        wrote = result.created or result.changed
        previous = last_write.get(customer_id)
        if wrote or previous is None or previous[1] != stamp(customer_id):
            last_write[customer_id] = (text_of, stamp(customer_id))
        outcomes.append(
            ("created",) if result.created else ("updated",) if wrote else ("unchanged",)
        )
    return outcomes


@pytest.mark.django_db
@example(lines=[["Ann", "a@example.com", "", "", "", "", ""]] * 2)
@example(
    lines=[
        ["Ann", "a@example.com", "", "", "", "", ""],
        ["Bo", "A@Example.com", "", "", "", "", ""],
        ["Cy", "", "", "", "INSTORE", "email:a@example.com;cardnumber:C-1", ""],
    ]
)
@example(
    lines=[
        ["Ann", "", "", "E1", "INSTORE", "cardnumber:C-1", ""],
        ["Bo", "", "", "", "LINE", "cardnumber:C-1", ""],
        ["Cy", "", "", "E1", "", "", ""],
    ]
)
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(rows, max_size=8))
def test_an_import_matches_customer_upsert_record_by_record(lines):
    note(repr(lines))
    text = csv_text(lines)
    sequential, bulk = OrganizationFactory(), OrganizationFactory()

    expected = one_by_one(sequential, text)
    got = imported(bulk, text)

    assert got == expected
    assert state_of(bulk) == state_of(sequential)


def customer_line(n: int, *, shout: bool, spaced: bool) -> list[str]:
    email = f"user{n}@example.com"
    phone = f"98045 4263{n}" if spaced else f"+91980454263{n}"
    return [
        f"Name{n}",
        email.upper() if shout else email,
        phone,
        f"E{n}",
        "INSTORE",
        f"cardnumber:C-{n};email:{email}",
        f"email:{email}[primary]",
    ]


@pytest.mark.django_db
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, 5), st.booleans(), st.booleans()), min_size=1, max_size=10
    )
)
def test_importing_a_file_again_changes_nothing(picks):
    """A file where each customer appears once or again (the same customer, perhaps with the
    email in capitals or the phone spaced), as exports of other systems are: the second import
    finds every record unchanged and leaves every customer as it was."""
    text = csv_text([customer_line(n, shout=shout, spaced=spaced) for n, shout, spaced in picks])
    organization = OrganizationFactory()
    first = imported(organization, text)
    state = state_of(organization)
    stamps = list(Customer.objects.filter(organization=organization).values_list("updated_at"))

    again = imported(organization, text)

    assert first.count(("created",)) == len({n for n, _, _ in picks})
    assert set(again) == {("unchanged",)}
    assert state_of(organization) == state
    assert list(Customer.objects.filter(organization=organization).values_list("updated_at")) == (
        stamps
    )


@pytest.mark.django_db
def test_a_record_that_identifies_no_customer_is_refused(org):
    text = csv_text([["Ann", "", "", "", "", "", "email:ann@example.com[primary]"]])

    assert imported(org, text) == [("failed", "required", "email")]
    assert not Customer.objects.filter(organization=org).exists()
