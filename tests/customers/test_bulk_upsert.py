"""customers_upsert_many gives exactly what customer_upsert gives, item after item."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crm.errors import DomainError
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from customers.membership.batch import customers_upsert_many
from customers.membership.upsert import customer_upsert
from customers.models import Customer
from tests.crm.factories import OrganizationFactory
from tests.loyalty.factories import ProgramFactory

# Small pools, so that items collide with each other and with existing customers; a few
# invalid values, so that refusals are mixed in.
EMAILS = st.sampled_from([None, None, "a@example.com", "B@example.com", "b@example.com", "bad"])
PHONES = st.sampled_from([None, None, "+919804542631", "9804542631", "+918795779625", "12"])
EXTERNAL_IDS = st.sampled_from([None, None, "E1", "E2"])
identifiers = st.builds(
    IdentifierInput,
    type=st.sampled_from(["cardnumber", "cardnumber", "cuid", "email", "mobile", "externalId"]),
    value=st.sampled_from(["C-1", "C-2", "a@example.com", "9804542631", "E1"]),
)
accounts = st.builds(
    SourceAccountInput,
    source=st.sampled_from(["INSTORE", "LINE", "WECHAT"]),
    account_id=st.sampled_from(["", "acc"]),
    identifiers=st.lists(identifiers, min_size=1, max_size=2),
)
items = st.builds(
    CustomerInput,
    first_name=st.sampled_from(["Ann", "Bo", "Cy"]),
    email=EMAILS,
    phone=PHONES,
    external_id=EXTERNAL_IDS,
    source_accounts=st.lists(accounts, max_size=2),
    channels=st.lists(
        st.builds(
            ChannelInput,
            type=st.sampled_from(["email", "mobile"]),
            value=st.sampled_from(["a@example.com", "c@example.com", "9804542631"]),
            primary=st.booleans(),
        ),
        max_size=2,
    ),
    enrollments=st.just([]),
)


def outcome_of(organization, call):
    try:
        result = call()
    except DomainError as error:
        return ("error", str(error.code), error.field)
    return ("ok", result.created, sorted(result.changed), [w.code for w in result.warnings])


def state_of(organization):
    """Every customer of the organization, with its accounts, identifiers and channels."""
    customers = []
    for customer in Customer.objects.filter(organization=organization).order_by("pk"):
        customers.append(
            (
                customer.first_name,
                customer.email,
                customer.phone,
                customer.external_id,
                customer.status,
                sorted(customer.source_accounts.values_list("source", "account_id")),
                sorted(customer.identifiers.values_list("source", "account_id", "type", "value")),
                sorted(customer.channels.values_list("type", "value", "primary")),
            )
        )
    return customers


def card(source, value="C-1"):
    return SourceAccountInput(source, identifiers=[IdentifierInput("cardnumber", value)])


@pytest.mark.django_db
@example(
    existing=[],
    batch=[
        CustomerInput(source_accounts=[card("INSTORE")]),
        CustomerInput(source_accounts=[card("LINE")]),
    ],
)
@example(
    existing=[CustomerInput(source_accounts=[card("INSTORE")])],
    batch=[CustomerInput(email="a@example.com", source_accounts=[card("LINE")])],
)
@example(
    existing=[],
    batch=[
        CustomerInput(email="bad", source_accounts=[card("INSTORE")]),
        CustomerInput(source_accounts=[card("LINE")]),
    ],
)
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(existing=st.lists(items, max_size=2), batch=st.lists(items, max_size=6))
def test_the_bulk_path_matches_one_by_one(existing, batch):
    one_by_one, bulk = OrganizationFactory(), OrganizationFactory()
    for organization in (one_by_one, bulk):
        for data in existing:
            outcome_of(
                organization, lambda o=organization, d=data: customer_upsert(organization=o, data=d)
            )

    sequential = [
        outcome_of(one_by_one, lambda d=data: customer_upsert(organization=one_by_one, data=d))
        for data in batch
    ]
    together = customers_upsert_many(organization=bulk, items=batch)
    together_outcomes = [
        ("error", str(o.error.code), o.error.field)
        if o.error
        else ("ok", o.result.created, sorted(o.result.changed), [w.code for w in o.result.warnings])
        for o in together
    ]

    assert together_outcomes == sequential
    assert state_of(bulk) == state_of(one_by_one)


@pytest.mark.django_db
def test_a_batch_of_new_customers_is_written_in_a_few_queries(org, django_assert_max_num_queries):
    batch = [
        CustomerInput(
            first_name=f"New {i}",
            email=f"new{i}@example.com",
            phone=f"+91980454{i:04d}",
            source_accounts=[
                SourceAccountInput(
                    "ECOMMERCE", identifiers=[IdentifierInput("externalId", f"x{i}")]
                )
            ],
            channels=[ChannelInput("email", f"new{i}@example.com", primary=True)],
        )
        for i in range(100)
    ]
    with django_assert_max_num_queries(17):
        outcomes = customers_upsert_many(organization=org, items=batch)
    assert [o.result.created for o in outcomes] == [True] * 100
    assert Customer.objects.filter(organization=org).count() == 100
    customer = Customer.objects.get(email="new7@example.com")
    assert customer.identifiers.get().value == "x7"
    assert customer.channels.get().primary


@pytest.mark.django_db
def test_items_with_enrolments_take_the_one_by_one_path(org):
    program = ProgramFactory(organization=org, welcome_points=5)
    outcomes = customers_upsert_many(
        organization=org,
        items=[CustomerInput(email="e@example.com", enrollments=[EnrollmentInput(program.pk)])],
    )
    assert outcomes[0].result.side_effects[0].points == 5
