import csv
import gzip
import io
import json

import pytest
from django.core.management import CommandError, call_command

from crm.actors import SYSTEM
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from customers.membership.registration import customer_register
from customers.models import Customer, ExtendedFieldDefinition
from loyalty.models import CustomerCard
from loyalty.services.stamps import stamps_add
from tests.crm.factories import OrganizationFactory, StoreFactory
from tests.customers.factories import CustomerFactory, StatusLabelFactory
from tests.loyalty.factories import ProgramFactory, StampCardFactory, TierFactory


def export(**options) -> str:
    out = io.StringIO()
    call_command("export_customers", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def import_file(path, **options) -> None:
    call_command(
        "import_customers", str(path), stdout=io.StringIO(), stderr=io.StringIO(), **options
    )


def configure(organization) -> None:
    """Programmes, cards, labels and stores, the same by name in every organization."""
    program = ProgramFactory(organization=organization, name="Club")
    TierFactory(program=program, number=1, name="Silver")
    TierFactory(program=program, number=2, name="Gold")
    ProgramFactory(organization=organization, name="Partners")
    StampCardFactory(organization=organization, name="Coffee")
    StampCardFactory(organization=organization, name="Lunch")
    StatusLabelFactory(organization=organization, name="vip", status="active")
    StoreFactory(organization=organization, code="main.till")
    ExtendedFieldDefinition.objects.create(
        organization=organization, name="visits", data_type="integer"
    )


def populate(organization) -> None:
    club, partners = organization.programs.order_by("name")
    coffee, lunch = organization.stamp_cards.order_by("name")
    customer_register(
        organization=organization,
        data=CustomerInput(
            first_name="Ann",
            last_name="Lee",
            email="ann@example.com",
            phone="9804542631",
            external_id="E1",
            email_verified=True,
            city="Pune",
            status_label="vip",
            store_code="main.till",
            custom_fields={"colour": "red"},
            extended_fields={"gender": "Female", "visits": 3},
            source_accounts=[
                SourceAccountInput("INSTORE", identifiers=[IdentifierInput("cardnumber", "C-1")]),
                SourceAccountInput(
                    "LINE", account_id="acc1", identifiers=[IdentifierInput("line", "U1")]
                ),
            ],
            channels=[
                ChannelInput("email", "ann@example.com", primary=True, verified=True),
                ChannelInput("mobile", "9804542631", subscribed=False),
            ],
            enrollments=[
                EnrollmentInput(club.pk, tier_number=2, points=120),
                EnrollmentInput(partners.pk, points=5),
            ],
            stamp_card_ids=[coffee.pk, lunch.pk],
        ),
        actor=SYSTEM,
    )
    for card in CustomerCard.objects.filter(stamp_card=coffee):
        stamps_add(organization=organization, card=card, stamps=4, actor=SYSTEM)
    customer_register(
        organization=organization,
        data=CustomerInput(
            first_name="Bo", email="bo@example.com", birthday=None, status="suspended"
        ),
        actor=SYSTEM,
    )


def snapshot(organization) -> list[tuple]:
    """What the export carries of each customer, without ids, codes and times."""
    rows = []
    for c in Customer.objects.filter(organization=organization).order_by("email"):
        rows.append(
            (
                c.first_name,
                c.last_name,
                c.email,
                c.phone,
                c.external_id,
                c.email_verified,
                c.city,
                c.status,
                c.status_label.name if c.status_label else None,
                c.registered_store.code if c.registered_store else None,
                c.custom_fields,
                c.extended_fields,
                sorted(c.identifiers.values_list("source", "account_id", "type", "value")),
                sorted(
                    c.channels.values_list("type", "value", "primary", "verified", "subscribed")
                ),
                sorted(
                    c.enrollments.values_list("program__name", "tier__number", "points_balance")
                ),
                sorted(c.cards.values_list("stamp_card__name", "stamps")),
            )
        )
    return rows


def test_a_csv_export_imports_back_to_the_same_customers(org, tmp_path):
    configure(org)
    populate(org)
    path = tmp_path / "customers.csv"
    path.write_text(export(org="acme"))
    other = OrganizationFactory(slug="copy", default_region="IN")
    configure(other)

    import_file(path, org="copy")

    assert snapshot(other) == snapshot(org)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3  # Ann's second enrolment and card take a second row
    assert rows[0]["identifiers"] == "cardnumber:C-1;LINE/acc1 line:U1"
    assert rows[0]["channels"] == (
        "email:ann@example.com[primary|verified];mobile:+919804542631[unsubscribed]"
    )
    assert (rows[0]["ext.visits"], rows[0]["custom.colour"]) == ("3", "red")


def test_a_json_lines_export_imports_back_to_the_same_customers(org, tmp_path):
    configure(org)
    populate(org)
    path = tmp_path / "customers.jsonl"
    export(org="acme", format="jsonl", output=str(path))
    before = snapshot(org)
    first = json.loads(path.read_text().splitlines()[0])
    assert first["cards"][0]["stamps"] == 4
    Customer.objects.filter(organization=org).delete()

    import_file(path, org="acme")

    assert snapshot(org) == before


def test_filters_and_compressed_output(org, tmp_path):
    store = StoreFactory(organization=org, code="north")
    CustomerFactory(organization=org, email="in@example.com", registered_store=store)
    CustomerFactory(organization=org, email="out@example.com")
    CustomerFactory(organization=OrganizationFactory(), email="other@example.com")
    path = tmp_path / "north.csv.gz"

    export(org="acme", store="north", output=str(path))

    with gzip.open(path, "rt") as file:
        assert [row["email"] for row in csv.DictReader(file)] == ["in@example.com"]
    found = export(org="acme", format="jsonl", search="out@")
    assert [json.loads(line)["email"] for line in found.splitlines()] == ["out@example.com"]


def test_an_export_reads_a_few_queries_a_chunk(org, django_assert_max_num_queries):
    CustomerFactory.create_batch(30, organization=org)

    with django_assert_max_num_queries(4):  # organization, field keys (2), the customers
        lines = export(org="acme").splitlines()

    assert len(lines) == 31


def test_unknown_organization_and_bad_dates(db):
    with pytest.raises(CommandError, match="no organization"):
        export(org="nope")
    with pytest.raises(CommandError, match="not a date"):
        call_command("export_customers", "--org", "acme", "--created-after", "yesterday")
