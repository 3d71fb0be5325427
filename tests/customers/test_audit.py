"""Every change to a customer's data is on record, from every door, with who made it."""

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from crm.actors import Actor
from customers.inputs import ChannelInput, CustomerInput, EnrollmentInput, IdentifierInput
from customers.membership.update import customer_update
from customers.models import AuditEvent, Customer
from customers.services.channels import channel_add, channel_remove, channel_update
from customers.services.identifiers import identifier_add, identifier_remove, identifier_update
from loyalty.models import CouponSeries
from loyalty.services.coupons import coupon_issue, coupon_redeem
from loyalty.services.enrolments import enrollment_create, tier_set
from loyalty.services.points import points_award, points_deduct
from loyalty.services.stamps import card_enroll, reward_redeem, stamps_add
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgramFactory, RewardFactory, StampCardFactory, TierFactory

pytestmark = pytest.mark.django_db
AGENT = Actor("staff", "3 agent")
VOUCHERIFY = "/compat/voucherify/v1/customers"


def history(customer):
    return [
        (e.subject, e.action, e.changes, e.actor)
        for e in AuditEvent.objects.filter(customer=customer).order_by("pk")
    ]


def test_identifier_and_channel_changes_are_recorded_with_before_and_after(org):
    customer = CustomerFactory(organization=org)
    identifier = identifier_add(
        customer=customer, source="INSTORE", data=IdentifierInput("cardnumber", "C-1"), actor=AGENT
    )
    identifier_update(identifier=identifier, data=IdentifierInput("cardnumber", "C-2"), actor=AGENT)
    identifier_remove(identifier=identifier, actor=AGENT)
    channel = channel_add(
        customer=customer, data=ChannelInput("email", "a@example.com"), actor=AGENT
    )
    channel_update(
        channel=channel,
        data=ChannelInput("email", "a@example.com", verified=True, subscribed=False),
        actor=AGENT,
    )
    channel_remove(channel=channel, actor=AGENT)
    assert history(customer) == [
        ("identifier", "added", {"cardnumber in INSTORE": [None, "C-1"]}, "staff:3 agent"),
        (
            "identifier",
            "updated",
            {"cardnumber in INSTORE: value": ["C-1", "C-2"]},
            "staff:3 agent",
        ),
        ("identifier", "removed", {"cardnumber in INSTORE": ["C-2", None]}, "staff:3 agent"),
        (
            "channel",
            "added",
            {"email a@example.com": [None, "a@example.com"], "subscribed": [None, True]},
            "staff:3 agent",
        ),
        (
            "channel",
            "updated",
            {
                "email a@example.com: verified": [False, True],
                "email a@example.com: subscribed": [True, False],
            },
            "staff:3 agent",
        ),
        ("channel", "removed", {"email a@example.com": ["a@example.com", None]}, "staff:3 agent"),
    ]


def test_an_unchanged_identifier_writes_no_event(org):
    customer = CustomerFactory(organization=org)
    identifier = identifier_add(
        customer=customer, source="INSTORE", data=IdentifierInput("cardnumber", "C-1")
    )
    identifier_update(identifier=identifier, data=IdentifierInput("cardnumber", "C-1"))
    assert [e[1] for e in history(customer)] == ["added"]


def test_loyalty_changes_are_recorded(org):
    customer = CustomerFactory(organization=org)
    program = ProgramFactory(organization=org, name="Club")
    TierFactory(program=program, number=1, name="Blue")
    TierFactory(program=program, number=2, name="Gold", points_threshold=10**6)
    enrollment = enrollment_create(
        organization=org, customer=customer, program=program, actor=AGENT
    ).enrollment
    points_award(organization=org, enrollment=enrollment, points=10, reason="Visit", actor=AGENT)
    points_deduct(organization=org, enrollment=enrollment, points=4, actor=AGENT)
    tier_set(organization=org, enrollment=enrollment, tier_number=2, actor=AGENT)
    stamp_card = StampCardFactory(organization=org, name="Coffee")
    reward = RewardFactory(stamp_card=stamp_card, stamp_cost=2)
    card = card_enroll(organization=org, customer=customer, stamp_card=stamp_card, actor=AGENT).card
    stamps_add(organization=org, card=card, stamps=3, actor=AGENT)
    reward_redeem(organization=org, card=card, reward=reward, actor=AGENT)
    series = CouponSeries.objects.create(organization=org, description="Welcome")
    coupon = coupon_issue(organization=org, series=series, customer=customer, actor=AGENT).coupon
    coupon_redeem(organization=org, code=coupon.code, actor=AGENT)

    events = history(customer)
    assert {actor for *_, actor in events} == {"staff:3 agent"}
    by_action = [(subject, action) for subject, action, _, _ in events]
    assert by_action == [
        ("enrollment", "added"),
        ("enrollment", "enrolment"),
        ("points", "award"),
        ("points", "deduct"),
        ("enrollment", "set"),
        ("card", "added"),
        ("stamps", "add"),
        ("stamps", "redeem"),
        ("coupon", "issued"),
        ("coupon", "redeemed"),
    ]
    changes = [c for _, _, c, _ in events]
    assert changes[2] == {"Club: points": [0, 10], "reason": [None, "Visit"]}
    assert changes[3] == {"Club: points": [10, 6]}
    assert changes[4] == {"Club: tier": ["Blue", "Gold"]}
    assert changes[6] == {f"card {card.code}: stamps": [0, 3]}
    assert changes[7]["reason"] == [None, f"Redeemed {reward.name}"]


def test_api_changes_record_the_key_and_the_user_context_headers(api, api_key, org):
    customer = CustomerFactory(organization=org)
    response = api.post(
        f"/api/v1/customers/{customer.public_id}/identifiers/",
        {"source": "INSTORE", "type": "cardnumber", "value": "API-1"},
        format="json",
        HTTP_USER_CONTEXT_ENTITY_TYPE="STAFF",
        HTTP_USER_CONTEXT_ENTITY_ID="till-7",
    )
    assert response.status_code == 201, response.content
    event = AuditEvent.objects.get(customer=customer, subject="identifier")
    key, _ = api_key
    assert event.actor == f"api_key:{key.pk} {key.prefix}"
    assert event.actor_context == {"entity_type": "STAFF", "entity_id": "till-7"}
    assert event.changes == {"cardnumber in INSTORE": [None, "API-1"]}


def test_vendor_adapter_changes_record_the_key(org, api_key):
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=org.slug, HTTP_X_APP_TOKEN=api_key[1])
    client.post(VOUCHERIFY, {"source_id": "s-1", "name": "Bob Smith"}, format="json")
    reply = client.post(VOUCHERIFY, {"source_id": "s-1", "name": "Robert Smith"}, format="json")
    assert reply.status_code == 200
    customer = Customer.objects.get(external_id="s-1")
    key, _ = api_key
    assert history(customer)[-1] == (
        "customer",
        "updated",
        {"first_name": ["Bob", "Robert"]},
        f"api_key:{key.pk} {key.prefix}",
    )


def test_background_jobs_record_the_actor_that_asked(org, django_capture_on_commit_callbacks):
    program = ProgramFactory(organization=org, name="Club")
    customer = CustomerFactory(organization=org)
    with django_capture_on_commit_callbacks(execute=True):
        customer_update(
            customer=customer,
            data=CustomerInput(enrollments=[EnrollmentInput(program.pk, points=75)]),
            actor=AGENT,
            loyalty_in_background=True,
        )
    events = history(customer)
    assert [(subject, action) for subject, action, *_ in events] == [
        ("enrollment", "added"),
        ("points", "award"),
    ]
    assert {actor for *_, actor in events} == {"staff:3 agent"}


def test_imports_record_each_update_and_each_batch_of_new_customers(org, tmp_path):
    existing = CustomerFactory(organization=org, first_name="Old", email="old@example.com")
    path = tmp_path / "people.csv"
    path.write_text("first_name,email\nNew,old@example.com\nAnn,ann@example.com\n")
    call_command("import_customers", str(path), org="acme", stdout=io.StringIO())
    assert history(existing) == [
        (
            "customer",
            "updated",
            {"first_name": ["Old", "New"]},
            "system:import_customers people.csv",
        )
    ]
    batch = AuditEvent.objects.get(subject="import")
    ann = Customer.objects.get(email="ann@example.com")
    assert batch.changes["customers"][1] == [ann.public_id]
