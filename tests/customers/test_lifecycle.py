"""Merging two customers into one, and erasing a customer's personal data."""

import datetime as dt

import pytest
from django.contrib.admin.models import LogEntry
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError
from crm.models import IdempotencyRecord
from customers.choices import CustomerStatus
from customers.inputs import ChannelInput, IdentifierInput
from customers.membership.erasure import customer_erase
from customers.membership.merge import customer_merge, merge_plan
from customers.models import AuditEvent, CommChannel, Customer, Identifier
from customers.selectors import customers_found
from customers.services.channels import channel_add
from customers.services.identifiers import identifier_add
from loyalty.choices import CardStatus, PointsKind, StampKind
from loyalty.models import (
    CardLinkDelivery,
    Coupon,
    CouponSeries,
    PointsTransaction,
    StampTransaction,
)
from loyalty.services.card_links import card_links_send
from loyalty.services.coupons import coupon_issue
from loyalty.services.points import points_award
from loyalty.services.stamps import stamps_add
from loyalty.tiers import TierChange
from tests.customers.factories import (
    ChannelFactory,
    CustomerFactory,
    IdentifierFactory,
    SourceAccountFactory,
)
from tests.customers.test_admin import form_data
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    ProgramFactory,
    StampCardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db
STAFF = Actor("staff", "7 supervisor")


def award(enrollment, points, expires_at=None):
    points_award(
        organization=enrollment.customer.organization,
        enrollment=enrollment,
        points=points,
        expires_at=expires_at,
        actor=STAFF,
    )


@pytest.fixture
def pair(org):
    survivor = CustomerFactory(
        organization=org,
        first_name="Asha",
        last_name="Rao",
        email="asha@example.com",
        phone=None,
        city="",
    )
    merged = CustomerFactory(
        organization=org,
        first_name="Ash",
        last_name="Rao",
        email=None,
        phone="+919804542631",
        city="Pune",
        custom_fields={"pet": "cat"},
    )
    return survivor, merged


def test_a_merge_moves_everything_to_the_survivor_and_keeps_its_values(org, pair):
    survivor, merged = pair
    IdentifierFactory(source_account__customer=survivor, source="INSTORE", value="S-1")
    IdentifierFactory(
        source_account__customer=merged,
        source_account__source="WECHAT",
        source_account__account_id="wx",
        type="wechat",
        value="wx-123",
    )
    ChannelFactory(customer=survivor, type="email", value="asha@example.com", primary=True)
    ChannelFactory(customer=merged, type="email", value="ash@example.com", primary=True)
    ChannelFactory(customer=merged, type="email", value="asha@example.com")
    program_only_merged = ProgramFactory(organization=org)
    award(EnrollmentFactory(customer=merged, program=program_only_merged), 40)
    series = CouponSeries.objects.create(organization=org, description="Welcome")
    coupon_issue(organization=org, series=series, customer=merged, actor=STAFF)
    referred = CustomerFactory(organization=org, referred_by=merged)

    plan = merge_plan(survivor=survivor, merged=merged)
    assert [(c.what, c.kept, c.dropped) for c in plan.conflicts] == [("first_name", "Asha", "Ash")]
    assert plan.filled == {"phone": "+919804542631", "city": "Pune"}

    customer_merge(survivor=survivor, merged=merged, actor=STAFF)

    survivor.refresh_from_db()
    merged.refresh_from_db()
    assert (survivor.first_name, survivor.phone, survivor.city) == ("Asha", "+919804542631", "Pune")
    assert survivor.custom_fields == {"pet": "cat"}
    assert set(survivor.identifiers.values_list("value", flat=True)) == {"S-1", "wx-123"}
    assert set(survivor.source_accounts.values_list("source", flat=True)) == {"INSTORE", "WECHAT"}
    channels = {(c.value, c.primary) for c in survivor.channels.all()}
    assert channels == {("asha@example.com", True), ("ash@example.com", False)}
    assert survivor.enrollments.get().points_balance == 40
    assert Coupon.objects.get().customer == survivor
    referred.refresh_from_db()
    assert referred.referred_by == survivor
    # The tombstone: no personal data, pointing to the survivor.
    assert merged.merged_into == survivor
    assert (merged.first_name, merged.phone, merged.city, merged.custom_fields) == (
        "",
        None,
        "",
        {},
    )
    assert not merged.identifiers.exists()
    assert not merged.channels.exists()
    event = survivor.events.get(action="merged")
    assert event.changes["merged customer"] == [None, merged.public_id]
    assert event.changes["first_name (kept)"] == ["Ash", "Asha"]
    assert event.actor == "staff:7 supervisor"


def test_enrolments_in_the_same_programme_combine_their_ledgers_lot_by_lot(org, pair):
    survivor, merged = pair
    program = ProgramFactory(organization=org)
    TierFactory(program=program, number=1, points_threshold=0)
    gold = TierFactory(program=program, number=2, points_threshold=1000)
    kept = EnrollmentFactory(customer=survivor, program=program)
    gone = EnrollmentFactory(customer=merged, program=program)
    award(kept, 100)
    soon = timezone.now() + dt.timedelta(days=30)
    award(gone, 50, expires_at=soon)
    award(gone, 950)
    ledger_total = PointsTransaction.objects.aggregate(total=Sum("points"))["total"]
    rows = PointsTransaction.objects.count()

    customer_merge(survivor=survivor, merged=merged, actor=STAFF)

    kept.refresh_from_db()
    gone.refresh_from_db()
    assert (kept.points_balance, gone.points_balance) == (1100, 0)
    assert kept.points_earned == 1100
    assert kept.tier == gold  # the combined earned points reach the gold threshold
    # Nothing rewritten: four new rows, two out of the merged enrolment, two into the survivor's.
    assert PointsTransaction.objects.count() == rows + 4
    assert PointsTransaction.objects.aggregate(total=Sum("points"))["total"] == ledger_total
    moved_in = kept.points_transactions.filter(kind=PointsKind.TRANSFER_IN)
    assert sorted((t.points, t.expires_at) for t in moved_in) == [(50, soon), (950, None)]
    assert sorted(kept.lots.values_list("remaining", flat=True)) == [50, 100, 950]
    assert gone.points_transactions.filter(kind=PointsKind.TRANSFER_OUT).count() == 2
    # The merged enrolment's history stays with it, on the tombstone.
    assert gone.customer_id == merged.pk


def test_the_duplicates_own_email_and_phone_stay_with_the_survivor_as_identifiers(org):
    survivor = CustomerFactory(organization=org, email="asha@example.com", phone="+919811122334")
    merged = CustomerFactory(organization=org, email="ash.old@example.com", phone="+919804542631")
    SourceAccountFactory(customer=merged, source="ECOMMERCE", account_id="shop")

    plan = merge_plan(survivor=survivor, merged=merged)
    assert "Email ash.old@example.com: kept as an identifier of the survivor" in plan.moves
    customer_merge(survivor=survivor, merged=merged, actor=STAFF)

    found = customers_found(
        organization=org,
        identifiers=[("email", "ash.old@example.com"), ("mobile", "+919804542631")],
    )
    assert found.by_identifier("email", "ash.old@example.com", field="identifier") == survivor
    assert found.by_identifier("mobile", "+919804542631", field="identifier") == survivor
    kept = Identifier.objects.filter(customer=survivor, type__in=["email", "mobile"])
    assert {(i.source, i.account_id, i.value) for i in kept} == {
        ("ECOMMERCE", "shop", "ash.old@example.com"),
        ("ECOMMERCE", "shop", "+919804542631"),
    }
    survivor.refresh_from_db()
    assert (survivor.email, survivor.phone) == ("asha@example.com", "+919811122334")


def test_an_identifier_the_duplicates_account_already_holds_is_not_added_again(org):
    survivor = CustomerFactory(organization=org, email="asha@example.com", phone=None)
    merged = CustomerFactory(organization=org, email="ash.old@example.com", phone=None)
    IdentifierFactory(source_account__customer=merged, type="email", value="ash.old@example.com")
    customer_merge(survivor=survivor, merged=merged, actor=STAFF)
    assert Identifier.objects.filter(customer=survivor, value="ash.old@example.com").count() == 1


def test_the_higher_tier_survives_a_merge(org, pair):
    survivor, merged = pair
    program = ProgramFactory(organization=org)
    TierFactory(program=program, number=1)
    silver = TierFactory(program=program, number=2, points_threshold=10**9)
    kept = EnrollmentFactory(customer=survivor, program=program)
    gone = EnrollmentFactory(customer=merged, program=program, tier=silver)

    customer_merge(survivor=survivor, merged=merged, actor=STAFF)

    kept.refresh_from_db()
    assert kept.tier == silver
    assert TierChange.objects.filter(enrollment=kept, reason="merge").exists()
    assert gone.pk != kept.pk


def test_cards_of_the_same_stamp_card_combine_their_stamps(org, pair):
    survivor, merged = pair
    stamp_card = StampCardFactory(organization=org)
    kept = CustomerCardFactory(customer=survivor, stamp_card=stamp_card)
    gone = CustomerCardFactory(customer=merged, stamp_card=stamp_card)
    other = CustomerCardFactory(customer=merged, stamp_card=StampCardFactory(organization=org))
    stamps_add(organization=org, card=kept, stamps=2, actor=STAFF)
    stamps_add(organization=org, card=gone, stamps=3, actor=STAFF)

    customer_merge(survivor=survivor, merged=merged, actor=STAFF)

    kept.refresh_from_db()
    gone.refresh_from_db()
    other.refresh_from_db()
    assert (kept.stamps, gone.stamps, gone.status) == (5, 0, CardStatus.INACTIVE)
    assert other.customer == survivor
    adjustments = StampTransaction.objects.filter(kind=StampKind.ADJUST)
    assert sorted(adjustments.values_list("stamps", flat=True)) == [-3, 3]


def test_an_old_id_resolves_to_the_survivor_in_the_api(api, org, pair):
    survivor, merged = pair
    customer_merge(survivor=survivor, merged=merged, actor=STAFF)

    response = api.get(f"/api/v1/customers/{merged.public_id}/")
    assert response.status_code == 200
    assert response.json()["id"] == survivor.public_id
    response = api.patch(
        f"/api/v1/customers/{merged.public_id}/", {"last_name": "Iyer"}, format="json"
    )
    assert response.status_code == 200
    survivor.refresh_from_db()
    assert survivor.last_name == "Iyer"
    listed = [c["id"] for c in api.get("/api/v1/customers/").json()["results"]]
    assert listed == [survivor.public_id]


def test_a_merge_of_a_merged_customer_re_points_its_tombstones(org, pair):
    survivor, merged = pair
    older = CustomerFactory(organization=org)
    customer_merge(survivor=merged, merged=older, actor=STAFF)
    customer_merge(survivor=survivor, merged=merged, actor=STAFF)
    older.refresh_from_db()
    assert older.merged_into == survivor


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("itself", "itself"),
        ("other organization", "same organization"),
        ("tombstone", "already merged"),
    ],
)
def test_merges_that_make_no_sense_are_refused(org, other_org, pair, what, message):
    survivor, merged = pair
    if what == "itself":
        merged = survivor
    elif what == "other organization":
        merged = CustomerFactory(organization=other_org)
    else:
        customer_merge(survivor=survivor, merged=merged, actor=STAFF)
        merged.refresh_from_db()
    with pytest.raises(DomainError, match=message):
        customer_merge(survivor=survivor, merged=merged, actor=STAFF)


def test_erasure_removes_personal_data_and_keeps_ledger_totals(org, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    customer = CustomerFactory(
        organization=org,
        first_name="Mira",
        email="mira@example.com",
        city="Goa",
        custom_fields={"pet": "dog"},
    )
    identifier_add(
        customer=customer,
        source="INSTORE",
        data=IdentifierInput("cardnumber", "CARD-77"),
        actor=STAFF,
    )
    channel_add(customer=customer, data=ChannelInput("email", "mira@example.com"), actor=STAFF)
    enrollment = EnrollmentFactory(customer=customer)
    award(enrollment, 70)
    card = CustomerCardFactory(customer=customer)
    stamps_add(organization=org, card=card, stamps=4, actor=STAFF)
    card_links_send(organization=org, card=card, actor=STAFF)
    totals = (
        PointsTransaction.objects.count(),
        PointsTransaction.objects.aggregate(total=Sum("points"))["total"],
        StampTransaction.objects.count(),
    )

    customer_erase(customer=customer, actor=STAFF)

    customer.refresh_from_db()
    assert (customer.first_name, customer.email, customer.city) == ("", None, "")
    assert customer.custom_fields == {}
    assert customer.status == CustomerStatus.DELETED
    assert customer.erased_at is not None
    assert not Identifier.objects.filter(customer=customer).exists()
    assert not CommChannel.objects.filter(customer=customer).exists()
    assert set(CardLinkDelivery.objects.values_list("address", flat=True)) == {"(erased)"}
    history = AuditEvent.objects.filter(customer=customer)
    assert history.count() > 3
    text = str(list(history.values_list("changes", flat=True)))
    for personal in ("Mira", "mira@example.com", "CARD-77", "Goa", "dog"):
        assert personal not in text
    assert history.filter(action="erased", actor="staff:7 supervisor").exists()
    enrollment.refresh_from_db()
    card.refresh_from_db()
    assert (enrollment.points_balance, card.stamps) == (70, 4)
    assert (
        PointsTransaction.objects.count(),
        PointsTransaction.objects.aggregate(total=Sum("points"))["total"],
        StampTransaction.objects.count(),
    ) == totals
    with pytest.raises(DomainError, match="already erased"):
        customer_erase(customer=customer, actor=STAFF)


def test_erasure_removes_the_customer_from_the_admins_log(staff_client, org):
    customer = CustomerFactory(organization=org, first_name="Mira", last_name="Kapoor")
    response = staff_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        form_data(org, first_name="Mira", last_name="Kapoor-Shah"),
        follow=True,
    )
    assert response.redirect_chain
    entry = LogEntry.objects.get(object_id=str(customer.pk))
    assert "Mira" in entry.object_repr

    customer_erase(customer=customer, actor=STAFF)

    entry.refresh_from_db()
    assert (entry.object_repr, entry.change_message) == ("(erased)", "")
    history = staff_client.get(reverse("admin:customers_customer_history", args=[customer.pk]))
    assert history.status_code == 200
    assert "Mira" not in history.content.decode()


def test_erasure_empties_kept_api_responses_and_a_retry_still_creates_nothing(api, org, pair):
    _, merged = pair
    request = {"first_name": "Mira", "email": "mira@example.com"}
    headers = {"HTTP_IDEMPOTENCY_KEY": "signup-1"}
    created = api.post("/api/v1/customers/", request, format="json", **headers)
    assert created.status_code == 201
    customer = Customer.objects.get(public_id=created.json()["customer"]["id"])
    # A response about a customer merged into this one goes too; one about another stays.
    about_merged = api.post(
        f"/api/v1/customers/{merged.public_id}/identifiers/",
        {"source": "INSTORE", "type": "cardnumber", "value": "CARD-5"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="card-5",
    )
    assert about_merged.status_code == 201, about_merged.json()
    customer_merge(survivor=customer, merged=merged, actor=STAFF)
    other = api.post(
        "/api/v1/customers/", {"email": "ravi@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="2"
    )

    customer_erase(customer=customer, actor=STAFF)

    retried = api.post("/api/v1/customers/", request, format="json", **headers)
    assert retried.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert "mira" not in retried.content.decode().lower()
    assert Customer.objects.filter(organization=org).count() == 4
    assert not Customer.objects.filter(email="mira@example.com").exists()
    retried_card = api.post(
        f"/api/v1/customers/{merged.public_id}/identifiers/",
        {"source": "INSTORE", "type": "cardnumber", "value": "CARD-5"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="card-5",
    )
    assert retried_card.status_code == 201
    assert "CARD-5" not in retried_card.content.decode()
    again = api.post(
        "/api/v1/customers/", {"email": "ravi@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="2"
    )
    assert again.json() == other.json()


@pytest.mark.parametrize("card", ["CARD-77", "CARTÉ-77"])  # stored escaped in SQLite's JSON
def test_erasure_scrubs_kept_replies_that_quote_a_value_in_a_message(api, org, card):
    holder = CustomerFactory(organization=org)
    other = CustomerFactory(organization=org)
    identifier = {"source": "INSTORE", "type": "cardnumber", "value": card}
    assert (
        api.post(f"/api/v1/customers/{holder.public_id}/identifiers/", identifier, format="json")
    ).status_code == 201

    def add_to_other():
        return api.post(
            f"/api/v1/customers/{other.public_id}/identifiers/",
            identifier,
            format="json",
            HTTP_IDEMPOTENCY_KEY="taken-card",
        )

    taken = add_to_other()
    assert taken.status_code == 409
    assert card in taken.json()["detail"]  # "cardnumber 'CARD-77' is already registered …"

    customer_erase(customer=holder, actor=STAFF)

    retried = add_to_other()
    assert retried.status_code == 409
    assert retried["Idempotent-Replayed"] == "true"
    assert card not in retried.content.decode()
    assert card not in str(IdempotencyRecord.objects.get(key="taken-card").response_body)


def test_an_erased_customer_keeps_its_id_and_counts_in_the_api(api, org):
    customer = CustomerFactory(organization=org, first_name="Mira")
    customer_erase(customer=customer, actor=STAFF)
    body = api.get(f"/api/v1/customers/{customer.public_id}/").json()
    assert (body["id"], body["first_name"], body["email"]) == (customer.public_id, "", None)
    assert Customer.objects.filter(organization=org).count() == 1


def test_deleting_a_survivor_deletes_its_tombstones(api, org, pair):
    survivor, merged = pair
    customer_merge(survivor=survivor, merged=merged, actor=STAFF)
    assert api.delete(f"/api/v1/customers/{survivor.public_id}/").status_code == 204
    assert not Customer.objects.filter(organization=org).exists()
    assert api.get(f"/api/v1/customers/{merged.public_id}/").status_code == 404
