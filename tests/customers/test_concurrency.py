"""Concurrent registrations of one customer make one customer, and report the others clearly."""

import pytest

from crm.actors import Actor
from crm.errors import ErrorCode
from customers.inputs import CustomerInput, EnrollmentInput, IdentifierInput, SourceAccountInput
from customers.membership.merge import customer_merge
from customers.membership.registration import customer_register
from customers.membership.upsert import customer_upsert
from customers.models import AuditEvent, Customer
from loyalty.models import CustomerCard, Enrollment
from tests.concurrency import errors, run_concurrently
from tests.crm.factories import OrganizationFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgramFactory, StampCardFactory

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_concurrent_registrations_of_one_identifier_make_one_customer():
    org = OrganizationFactory()

    def register(i):
        return customer_register(
            organization=org,
            data=CustomerInput(
                first_name=f"Twin {i}",
                source_accounts=[
                    SourceAccountInput(
                        source="INSTORE", identifiers=[IdentifierInput("email", "twin@example.com")]
                    )
                ],
            ),
        )

    outcomes = run_concurrently(10, register)

    failures = errors(outcomes)
    assert len(failures) == 9
    assert {f.code for f in failures} == {ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE}
    assert Customer.objects.filter(organization=org).count() == 1


def test_concurrent_upserts_of_one_email_all_succeed_on_one_customer():
    org = OrganizationFactory()

    outcomes = run_concurrently(
        10,
        lambda i: customer_upsert(
            organization=org, data=CustomerInput(email="Same@example.com", first_name="Same")
        ),
    )

    assert errors(outcomes) == []
    assert sum(outcome.created for outcome in outcomes) == 1
    assert Customer.objects.filter(organization=org).count() == 1


def test_concurrent_upserts_of_an_existing_customer_enrol_and_issue_a_card_once():
    org = OrganizationFactory()
    customer = CustomerFactory(organization=org, email="same@example.com")
    program = ProgramFactory(organization=org)
    stamp_card = StampCardFactory(organization=org)

    outcomes = run_concurrently(
        10,
        lambda i: customer_upsert(
            organization=org,
            data=CustomerInput(
                email="same@example.com",
                enrollments=[EnrollmentInput(program_id=program.pk)],
                stamp_card_ids=[stamp_card.pk],
            ),
        ),
    )

    assert errors(outcomes) == []
    assert {outcome.customer.pk for outcome in outcomes} == {customer.pk}
    assert Enrollment.objects.filter(customer=customer).count() == 1
    assert CustomerCard.objects.filter(customer=customer).count() == 1


def test_opposite_merges_at_once_merge_once_without_deadlock():
    org = OrganizationFactory()
    first, second = CustomerFactory(organization=org), CustomerFactory(organization=org)
    pairs = [(first, second), (second, first)] * 3

    def merge(i):
        survivor, merged = pairs[i]
        return customer_merge(
            survivor=Customer.objects.get(pk=survivor.pk),
            merged=Customer.objects.get(pk=merged.pk),
            actor=Actor("staff", "1 supervisor"),
        )

    outcomes = run_concurrently(len(pairs), merge)

    refused = errors(outcomes)
    assert len(refused) == len(pairs) - 1
    assert all("already merged" in error.message for error in refused)
    tombstones = Customer.objects.filter(merged_into__isnull=False)
    assert tombstones.count() == 1
    assert AuditEvent.objects.filter(action="merged").count() == 1
