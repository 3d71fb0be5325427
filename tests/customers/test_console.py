"""The member-care console: the 360 page, staff actions, merge and erasure, by role."""

import datetime as dt
import io

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.actors import Actor
from customers.choices import CustomerStatus
from customers.membership.erasure import customer_erase
from customers.membership.merge import customer_merge
from customers.models import AuditEvent, Customer, ExtendedFieldDefinition
from loyalty.models import PointsTransaction
from loyalty.points_rewards import PointsRewardRedemption
from loyalty.services.enrolments import enrollment_create, tier_set
from loyalty.services.points import points_award
from loyalty.services.tier_renewals import tiers_renew_due
from tests.crm.factories import StaffFactory
from tests.customers.factories import (
    ChannelFactory,
    CustomerFactory,
    IdentifierFactory,
    StatusLabelFactory,
)
from tests.loyalty.factories import (
    AwardFactory,
    CustomerCardFactory,
    EnrollmentFactory,
    PointsRewardFactory,
    ProgramFactory,
    RewardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db
STAFF = Actor("staff", "3 agent")


def member_of(group, org, client, username):
    user = StaffFactory(username=username, organization=org, all_permissions=False)
    user.user_permissions.clear()
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


@pytest.fixture
def agent(client, org):
    member_of("agent", org, client, "agent")
    return client


@pytest.fixture
def supervisor(client, org):
    member_of("supervisor", org, client, "supervisor")
    return client


def overview(customer):
    return reverse("admin:customers_customer_360", args=[customer.pk])


def action(customer, name):
    return reverse("admin:customers_customer_action", args=[customer.pk, name])


def said(response):
    """The message the request left (earlier, unread ones come before it)."""
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


def full_customer(org, n=1):
    customer = CustomerFactory(organization=org, first_name="Lena")
    for i in range(n):
        IdentifierFactory(source_account__customer=customer, value=f"id-{i}-{customer.pk}")
        ChannelFactory(customer=customer)
        enrollment = EnrollmentFactory(customer=customer, program__tier_window="calendar_year")
        TierFactory(program=enrollment.program, number=1)
        TierFactory(program=enrollment.program, number=2)
        for j in range(n):
            points_award(organization=org, enrollment=enrollment, points=5, actor=Actor("system"))
            until = timezone.now() + dt.timedelta(days=j + 1)
            tier_set(
                organization=org,
                enrollment=enrollment,
                tier_number=2,
                tier_expires_at=until,
                actor=STAFF,
            )
        card = CustomerCardFactory(customer=customer)
        RewardFactory(stamp_card=card.stamp_card, name=f"Coffee {i}")
        CustomerFactory(organization=org, referred_by=customer)
    return customer


def test_the_360_page_shows_everything_in_a_fixed_number_of_queries(agent, org):
    small = full_customer(org, 1)
    large = full_customer(org, 4)

    def queries(customer):
        with CaptureQueriesContext(connection) as captured:
            response = agent.get(overview(customer))
        assert response.status_code == 200
        return len(captured), response.content.decode()

    few, _ = queries(small)
    many, page = queries(large)
    assert many == few
    for shown in [
        "Lena",
        "id-3-",
        "Coffee 3",
        "full ledger",
        "Apple Wallet",
        "4 customer(s) referred",
        "Change history",
        "Add stamps",
        "Tier history",
        "Set by staff",
        "Not below",
    ]:
        assert shown in page, shown


def test_the_360_page_shows_each_tier_change_with_its_reason(agent, org):
    customer = CustomerFactory(organization=org)
    yesterday = timezone.now() - dt.timedelta(days=1)
    for name in ["Coffee club", "Tea club"]:
        program = ProgramFactory(organization=org, name=name, tier_window="rolling_12_months")
        TierFactory(program=program, number=1, name="Silver")
        TierFactory(program=program, number=2, name="Gold", points_threshold=1000)
        enrollment_create(
            organization=org,
            customer=customer,
            program=program,
            tier_number=2,
            tier_expires_at=yesterday,
            actor=STAFF,
        )
    coffee, tea = customer.enrollments.order_by("program__name")
    AwardFactory(enrollment=tea, points=1000, created_at=yesterday - dt.timedelta(days=1))
    tiers_renew_due()  # Coffee club: nothing earned, downgraded; Tea club: renewed
    tier_set(
        organization=org,
        enrollment=coffee,
        tier_number=2,
        tier_expires_at=timezone.now() + dt.timedelta(days=30),
        actor=STAFF,
    )

    page = agent.get(overview(customer)).content.decode()

    for shown in [
        "Given at enrolment",
        "Set by staff",
        "Downgraded at the end of its period",
        "Renewed for another period",
        "Gold → Silver",
        "Not below Gold at a renewal until",
        "enrollment renewal",  # the change history's row, in the audit trail
        "enrollment downgrade",
    ]:
        assert shown in page, shown


def test_an_agent_adds_a_stamp_and_it_is_on_record(agent, org):
    customer = CustomerFactory(organization=org)
    card = CustomerCardFactory(customer=customer)
    response = agent.post(action(customer, "stamps"), {"card": card.pk, "stamps": 2})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.stamps == 2
    event = AuditEvent.objects.get(customer=customer, subject="stamps")
    assert event.actor.endswith(" agent")
    assert event.actor.startswith("staff:")


def test_an_agent_cannot_adjust_points_merge_or_erase(agent, org):
    customer = CustomerFactory(organization=org)
    enrollment = EnrollmentFactory(customer=customer)
    response = agent.post(
        action(customer, "points"),
        {"enrollment": enrollment.pk, "direction": "award", "points": 10, "reason": "Goodwill"},
    )
    assert said(response) == "Award or deduct points: you do not have permission to do this."
    assert not PointsTransaction.objects.exists()
    for name in ("merge", "erase"):
        url = reverse(f"admin:customers_customer_{name}", args=[customer.pk])
        assert agent.get(url).status_code == 403


def test_a_supervisor_awards_points_with_a_reason(supervisor, org):
    customer = CustomerFactory(organization=org)
    enrollment = EnrollmentFactory(customer=customer)
    response = supervisor.post(
        action(customer, "points"),
        {"enrollment": enrollment.pk, "direction": "award", "points": 10, "reason": "Goodwill"},
    )
    assert said(response) == "Awarded 10 points: the balance is 10."
    row = PointsTransaction.objects.get()
    assert (row.points, row.reason) == (10, "Goodwill")
    response = supervisor.post(
        action(customer, "points"),
        {"enrollment": enrollment.pk, "direction": "deduct", "points": 99, "reason": "Oops"},
    )
    assert said(response) == (
        "Award or deduct points: points: The balance is 10 points; 99 cannot be deducted."
    )


def test_bad_input_to_an_action_is_a_message_not_an_error(agent, org, other_org):
    customer = CustomerFactory(organization=org)
    foreign_card = CustomerCardFactory(customer=CustomerFactory(organization=other_org))
    response = agent.post(action(customer, "stamps"), {"card": foreign_card.pk, "stamps": 1})
    assert response.status_code == 302
    assert said(response).startswith("Add stamps: card: Select a valid choice.")
    foreign_card.refresh_from_db()
    assert foreign_card.stamps == 0


def test_extended_fields_are_edited_with_their_types(agent, org):
    ExtendedFieldDefinition.objects.create(
        organization=org, name="size", data_type="enum", allowed_values=["S", "M"]
    )
    ExtendedFieldDefinition.objects.create(organization=org, name="visits", data_type="integer")
    customer = CustomerFactory(organization=org, custom_fields={"old": "x"})
    page = agent.get(overview(customer)).content.decode()
    assert 'name="ext_size"' in page
    assert '<option value="M">M</option>' in page
    response = agent.post(
        action(customer, "fields"),
        {"ext_size": "M", "ext_visits": "7", "custom_fields": "colour = blue"},
    )
    assert said(response) == "Fields saved."
    customer.refresh_from_db()
    assert customer.extended_fields == {"size": "M", "visits": 7}
    assert customer.custom_fields == {"colour": "blue"}
    response = agent.post(action(customer, "fields"), {"ext_visits": "many"})
    assert "Enter a whole number" in said(response)


def test_a_supervisor_merges_after_seeing_the_conflicts(supervisor, org):
    survivor = CustomerFactory(organization=org, first_name="Asha")
    merged = CustomerFactory(organization=org, first_name="Ash", email="ash@example.com")
    url = reverse("admin:customers_customer_merge", args=[survivor.pk])
    found = supervisor.get(url, {"other": "ash@"}).content.decode()
    assert merged.public_id in found
    review = supervisor.get(url, {"merged": merged.pk}).content.decode()
    assert "first_name" in review
    assert "Ash" in review
    response = supervisor.post(url, {"merged": merged.pk, "confirm": "yes"})
    assert response.status_code == 302
    merged.refresh_from_db()
    assert merged.merged_into == survivor
    # The old id leads to the survivor, in the list search and on its 360 page.
    listed = supervisor.get(reverse("admin:customers_customer_changelist"), {"q": merged.public_id})
    assert list(listed.context["cl"].result_list) == [survivor]
    assert supervisor.get(overview(merged)).url == overview(survivor)


def test_erasure_takes_two_confirmations(supervisor, org):
    customer = CustomerFactory(organization=org, first_name="Mira")
    url = reverse("admin:customers_customer_erase", args=[customer.pk])
    wrong = supervisor.post(url, {"public_id": "cust_nope"})
    assert "id exactly as shown" in wrong.content.decode()
    step_two = supervisor.post(url, {"public_id": customer.public_id})
    token = step_two.context["token"]
    customer.refresh_from_db()
    assert customer.erased_at is None
    assert supervisor.post(url, {"token": "forged"}).status_code == 302
    customer.refresh_from_db()
    assert customer.erased_at is None
    supervisor.post(url, {"token": token})
    customer.refresh_from_db()
    assert customer.erased_at is not None
    assert customer.first_name == ""
    assert customer.status == CustomerStatus.DELETED


def test_an_erased_customer_is_offered_neither_edit_nor_merge(supervisor, org):
    customer = CustomerFactory(organization=org)
    change = reverse("admin:customers_customer_change", args=[customer.pk])
    merge = reverse("admin:customers_customer_merge", args=[customer.pk])
    before = supervisor.get(overview(customer)).content.decode()
    assert change in before
    assert merge in before
    customer_erase(customer=customer, actor=Actor("system"))
    after = supervisor.get(overview(customer)).content.decode()
    assert change not in after
    assert merge not in after


def test_merged_away_customers_are_not_listed(agent, org):
    survivor = CustomerFactory(organization=org)
    merged = CustomerFactory(organization=org)
    customer_merge(survivor=survivor, merged=merged, actor=Actor("system"))
    listed = agent.get(reverse("admin:customers_customer_changelist")).context["cl"].result_list
    assert list(listed) == [survivor]
    assert Customer.objects.count() == 2


def test_another_organizations_customer_is_not_found(agent, other_org):
    foreign = CustomerFactory(organization=other_org)
    assert agent.get(overview(foreign)).status_code == 404
    assert agent.post(action(foreign, "stamps"), {"stamps": 1}).status_code == 404


def test_an_imported_customer_shows_the_import_in_its_history(agent, org, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("first_name,email\nIda,ida@example.com\nJo,jo@example.com\n")
    call_command("import_customers", str(path), org="acme", stdout=io.StringIO())
    ida = Customer.objects.get(email="ida@example.com")
    history = agent.get(overview(ida)).context["overview"].history
    assert [(e.subject, e.action) for e in history] == [("import", "created")]
    assert history[0].changes["customer"] == [None, ida.public_id]
    full = agent.get(reverse("admin:customers_customer_history", args=[ida.pk]))
    assert [(e.subject, e.action) for e in full.context["events"]] == [("import", "created")]


def history(customer):
    return reverse("admin:customers_customer_history", args=[customer.pk])


def test_the_whole_history_is_a_page_at_a_time_beyond_the_360_pages_newest(agent, org, other_org):
    customer = CustomerFactory(organization=org)
    card = CustomerCardFactory(customer=customer)
    for _ in range(121):
        agent.post(action(customer, "stamps"), {"card": card.pk, "stamps": 1})
    CustomerCardFactory(customer=CustomerFactory(organization=other_org))
    events = list(AuditEvent.objects.filter(customer=customer).order_by("-created_at", "-pk"))
    assert len(events) == 121

    shown = agent.get(overview(customer))
    assert len(shown.context["overview"].history) == 50
    assert history(customer) in shown.content.decode()

    with CaptureQueriesContext(connection) as first_queries:
        first = agent.get(history(customer))
    second = agent.get(history(customer), {"page": 2})
    with CaptureQueriesContext(connection) as last_queries:
        last = agent.get(history(customer), {"page": 2})

    assert first.context["events"] == events[:100]
    assert last.context["events"] == events[100:]
    assert second.context["events"] == events[100:]
    assert len(first_queries) == len(last_queries)
    assert "page 1 of 2 · 121 changes" in first.content.decode()
    assert "stamps: 120 → 121" in first.content.decode()
    assert "stamps: 0 → 1" in last.content.decode()
    assert "stamps: 0 → 1" not in first.content.decode()


def test_the_history_of_a_merged_away_customer_leads_to_the_survivors(supervisor, org):
    survivor, merged = CustomerFactory.create_batch(2, organization=org)
    customer_merge(survivor=survivor, merged=merged, actor=Actor("staff", "1 supervisor"))
    response = supervisor.get(history(merged))
    assert response.status_code == 302
    assert response["Location"] == history(survivor)


@pytest.mark.parametrize(
    ("label_name", "badge"), [("Active", "Active"), ("VIP", "Active · VIP"), (None, "Active")]
)
def test_the_status_badge_names_a_label_only_when_it_says_more(agent, org, label_name, badge):
    label = label_name and StatusLabelFactory(organization=org, name=label_name, status="active")
    customer = CustomerFactory(organization=org, status="active", status_label=label or None)
    page = agent.get(overview(customer)).content.decode()
    assert f'id="customer-status">{badge}</span>' in page


def test_a_blocked_customer_is_neither_awarded_points_nor_redeems_in_the_console(supervisor, org):
    label = StatusLabelFactory(
        organization=org,
        name="fraud",
        status=CustomerStatus.FRAUD_CONFIRMED,
        may_earn=False,
        may_spend=False,
    )
    customer = CustomerFactory(organization=org, status=label.status, status_label=label)
    enrollment = EnrollmentFactory(customer=customer)
    response = supervisor.post(
        action(customer, "points"),
        {"enrollment": enrollment.pk, "direction": "award", "points": 10, "reason": "Goodwill"},
    )
    assert said(response) == (
        f"Award or deduct points: customer: Customer {customer.public_id} may not earn: "
        "their status label 'fraud' blocks it."
    )
    assert not PointsTransaction.objects.exists()
    card = CustomerCardFactory(customer=customer, stamps=5)
    coffee = RewardFactory(stamp_card=card.stamp_card, stamp_cost=5)
    response = supervisor.post(action(customer, "redeem"), {"card": card.pk, "reward": coffee.pk})
    assert said(response).endswith(
        f"Customer {customer.public_id} may not spend: their status label 'fraud' blocks it."
    )
    card.refresh_from_db()
    assert card.stamps == 5


def test_staff_redeem_a_points_reward_from_the_360_page(agent, org):
    customer = CustomerFactory(organization=org)
    enrollment = EnrollmentFactory(customer=customer)
    points_award(organization=org, enrollment=enrollment, points=300, actor=Actor("system"))
    reward = PointsRewardFactory(program=enrollment.program, name="Free coffee", points_cost=120)
    assert "Free coffee" in agent.get(overview(customer)).content.decode()

    response = agent.post(action(customer, "points_reward"), {"reward": reward.pk})

    redemption = PointsRewardRedemption.objects.get()
    assert said(response) == (
        f"Redeemed Free coffee for 120 points: coupon {redemption.coupon.code}; the balance is 180."
    )
    assert redemption.actor.endswith("agent")


def test_the_console_says_why_a_points_reward_is_refused(agent, org):
    customer = CustomerFactory(organization=org)
    enrollment = EnrollmentFactory(customer=customer)
    reward = PointsRewardFactory(program=enrollment.program, points_cost=120)

    response = agent.post(action(customer, "points_reward"), {"reward": reward.pk})

    assert said(response).startswith("Redeem a points reward: reward: ")
    assert "costs 120 points" in said(response)
    assert not PointsRewardRedemption.objects.exists()
