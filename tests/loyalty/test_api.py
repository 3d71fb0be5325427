"""The loyalty endpoints of /api/v1/, and the configuration ones (stores, extended fields)."""

import pytest

from crm.models import Store
from customers.models import ExtendedFieldDefinition
from loyalty.models import Coupon, CouponSeries, PointsTransaction
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    ProgramFactory,
    RewardFactory,
    StampCardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db


def points_url(customer):
    return f"/api/v1/customers/{customer.public_id}/points/"


def test_points_are_awarded_deducted_and_listed(api, org):
    enrollment = EnrollmentFactory(customer__organization=org)
    program_id = enrollment.program_id
    url = points_url(enrollment.customer)
    award = api.post(
        url,
        {
            "program_id": program_id,
            "action": "award",
            "points": 100,
            "reason": "order",
            "reference": "order-1",
            "expires_at": "2030-01-01T00:00:00Z",
        },
        format="json",
    )
    assert award.status_code == 201, award.content
    assert award.json()["balance"] == 100
    assert award.json()["side_effects"][0]["points"] == 100
    deduct = api.post(
        url, {"program_id": program_id, "action": "deduct", "points": 30}, format="json"
    )
    assert deduct.json()["transaction"]["points"] == -30
    assert deduct.json()["balance"] == 70
    ledger = api.get(url).json()["results"]
    assert [row["points"] for row in ledger] == [-30, 100]
    assert api.get(url, {"kind": "award"}).json()["results"][0]["reference"] == "order-1"


def test_points_refusals(api, org):
    enrollment = EnrollmentFactory(customer__organization=org)
    url = points_url(enrollment.customer)
    body = {"program_id": enrollment.program_id, "action": "award", "points": 5, "reference": "r"}
    api.post(url, body, format="json")
    assert api.post(url, body, format="json").json()["code"] == "duplicate_reference"
    too_many = api.post(
        url, {**body, "action": "deduct", "points": 6, "reference": None}, format="json"
    )
    assert (too_many.status_code, too_many.json()["code"]) == (422, "insufficient_points")
    other_program = ProgramFactory(organization=org)
    not_enrolled = api.post(
        url, {**body, "program_id": other_program.pk, "reference": "x"}, format="json"
    )
    assert (not_enrolled.status_code, not_enrolled.json()["code"]) == (422, "not_enrolled")
    assert PointsTransaction.objects.count() == 1


def test_cards_are_issued_stamped_and_redeemed(api, org):
    customer = CustomerFactory(organization=org)
    stamp_card = StampCardFactory(organization=org, initial_stamps=2)
    coffee = RewardFactory(stamp_card=stamp_card, stamp_cost=5, name="Coffee")
    enrolled = api.post(
        f"/api/v1/customers/{customer.public_id}/cards/",
        {"stamp_card_id": stamp_card.pk},
        format="json",
    )
    assert enrolled.status_code == 201, enrolled.content
    code = enrolled.json()["card"]["code"]
    assert enrolled.json()["card"]["stamps"] == 2

    stamped = api.post(
        f"/api/v1/cards/{code}/stamps/", {"stamps": 3, "reason": "visit"}, format="json"
    ).json()
    assert stamped["card"]["stamps"] == 5
    assert [e["type"] for e in stamped["side_effects"]] == ["stamps", "reward"]
    assert stamped["card"]["rewards_available"][0]["id"] == coffee.pk

    redeemed = api.post(
        f"/api/v1/cards/{code}/redeem/", {"reward_id": coffee.pk}, format="json"
    ).json()
    assert redeemed["card"]["stamps"] == 0
    again = api.post(f"/api/v1/cards/{code}/redeem/", {"reward_id": coffee.pk}, format="json")
    assert (again.status_code, again.json()["code"]) == (422, "insufficient_stamps")
    too_many = api.post(f"/api/v1/cards/{code}/stamps/", {"stamps": 101}, format="json")
    assert too_many.json()["errors"][0]["field"] == "stamps"
    assert api.get(f"/api/v1/cards/{code.lower()}/").json()["code"] == code
    assert [
        c["code"] for c in api.get(f"/api/v1/customers/{customer.public_id}/cards/").json()
    ] == [code]


def test_card_links_are_sent(api, org):
    card = CustomerCardFactory(customer__organization=org)
    body = api.post(f"/api/v1/cards/{card.code}/send-links/").json()
    assert {d["channel"] for d in body["deliveries"]} == {"email", "sms"}
    assert body["warnings"] == []


def test_programmes_and_stamp_cards_are_listed_with_tiers_and_rewards(api, org):
    program = ProgramFactory(organization=org, name="Rewards")
    TierFactory(program=program, number=1, name="Silver")
    TierFactory(program=program, number=2, name="Gold", points_threshold=1000)
    stamp_card = StampCardFactory(organization=org)
    RewardFactory(stamp_card=stamp_card, stamp_cost=5)
    programs = api.get("/api/v1/programs/").json()["results"]
    assert [t["name"] for t in programs[0]["tiers"]] == ["Silver", "Gold"]
    assert api.get(f"/api/v1/programs/{program.pk}/").json()["tiers"][1]["points_threshold"] == 1000
    cards = api.get("/api/v1/stamp-cards/").json()["results"]
    assert cards[0]["rewards"][0]["stamp_cost"] == 5


def test_coupons_are_issued_listed_and_redeemed(api, org):
    series = CouponSeries.objects.create(organization=org, description="10% off", valid_days=7)
    customer = CustomerFactory(organization=org)
    issued = api.post(
        "/api/v1/coupons/",
        {"series_id": series.pk, "customer_id": customer.public_id},
        format="json",
    )
    assert issued.status_code == 201, issued.content
    code = issued.json()["code"]
    assert [
        c["code"]
        for c in api.get("/api/v1/coupons/", {"customer": customer.public_id}).json()["results"]
    ] == [code]
    redeemed = api.post(f"/api/v1/coupons/{code}/redeem/")
    assert redeemed.json()["redeemed_at"] is not None
    again = api.post(f"/api/v1/coupons/{code}/redeem/")
    assert (again.status_code, again.json()["code"]) == (422, "coupon_redeemed")
    assert api.get("/api/v1/coupons/", {"redeemed": "false"}).json()["results"] == []
    assert Coupon.objects.count() == 1


def test_stores_are_created_and_renamed(api, org):
    created = api.post("/api/v1/stores/", {"code": "mg.till", "name": "MG Road"}, format="json")
    assert created.status_code == 201, created.content
    store_id = created.json()["id"]
    taken = api.post("/api/v1/stores/", {"code": "mg.till", "name": "Again"}, format="json")
    assert (taken.status_code, taken.json()["code"]) == (409, "store_code_taken")
    renamed = api.patch(f"/api/v1/stores/{store_id}/", {"name": "MG"}, format="json")
    assert renamed.json()["name"] == "MG"
    assert Store.objects.get().code == "mg.till"


def test_extended_fields_of_the_organization_and_the_global_ones(api, org):
    created = api.post(
        "/api/v1/extended-fields/",
        {"name": "shoe_size", "data_type": "enum", "allowed_values": ["S", "M"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    field_id = created.json()["id"]
    names = {f["name"]: f["is_global"] for f in api.get("/api/v1/extended-fields/").json()}
    assert names["shoe_size"] is False
    assert names["gender"] is True
    changed = api.patch(
        f"/api/v1/extended-fields/{field_id}/", {"allowed_values": ["S", "M", "L"]}, format="json"
    )
    assert changed.json()["allowed_values"] == ["S", "M", "L"]
    gender = ExtendedFieldDefinition.objects.get(organization=None, name="gender")
    assert api.delete(f"/api/v1/extended-fields/{gender.pk}/").status_code == 403
    bad = api.post(
        "/api/v1/extended-fields/", {"name": "Bad Name", "data_type": "string"}, format="json"
    )
    assert bad.json()["errors"][0]["field"] == "name"
    assert api.delete(f"/api/v1/extended-fields/{field_id}/").status_code == 204
