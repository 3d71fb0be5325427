"""Status labels that block earning or spending, enforced at the native API's loyalty doors and in
the awards that registration and enrolment give."""

import pytest

from crm.actors import Actor
from customers.choices import CustomerStatus
from customers.inputs import CustomerInput, EnrollmentInput
from customers.membership.registration import customer_register
from customers.models import StatusLabel
from customers.services.status_labels import may_earn, may_spend
from loyalty.models import Coupon, CouponSeries, PointsTransaction, StampTransaction
from loyalty.services.points import points_award
from tests.customers.factories import CustomerFactory, StatusLabelFactory
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    ProgramFactory,
    RewardFactory,
    StampCardFactory,
)

pytestmark = pytest.mark.django_db
SYSTEM = Actor("system")


def blocked(org, *, may_earn=False, may_spend=False, **fields):
    label = StatusLabelFactory(
        organization=org,
        name="fraud",
        status=CustomerStatus.FRAUD_CONFIRMED,
        may_earn=may_earn,
        may_spend=may_spend,
    )
    return CustomerFactory(organization=org, status=label.status, status_label=label, **fields)


def funded_enrollment(customer, points=50):
    enrollment = EnrollmentFactory(customer=customer)
    label = StatusLabel.objects.filter(pk=customer.status_label_id)
    # Funded while the label still let them earn: what they hold is what they may not spend.
    label.update(may_earn=True)
    points_award(
        organization=customer.organization, enrollment=enrollment, points=points, actor=SYSTEM
    )
    label.update(may_earn=False)
    return enrollment


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (CustomerStatus.ACTIVE, True),
        (CustomerStatus.INTERNAL, True),
        (CustomerStatus.SUSPENDED, False),
        (CustomerStatus.FRAUD_SUSPECTED, False),
        (CustomerStatus.FRAUD_CONFIRMED, False),
    ],
)
def test_a_customer_without_a_label_follows_its_status(org, status, allowed):
    customer = CustomerFactory(organization=org, status=status)
    assert (may_earn(customer), may_spend(customer)) == (allowed, allowed)


def test_a_customers_label_decides_over_its_status(org):
    label = StatusLabelFactory(
        organization=org, status=CustomerStatus.ACTIVE, may_earn=True, may_spend=False
    )
    customer = CustomerFactory(
        organization=org, status=CustomerStatus.SUSPENDED, status_label=label
    )
    assert (may_earn(customer), may_spend(customer)) == (True, False)


def test_points_deducted_through_the_api_are_refused(api, org):
    customer = blocked(org)
    enrollment = funded_enrollment(customer)
    response = api.post(
        f"/api/v1/customers/{customer.public_id}/points/",
        {"program_id": enrollment.program_id, "action": "deduct", "points": 10},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (409, "spending_blocked")
    assert "status label 'fraud'" in response.json()["detail"]
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 50


def test_points_awarded_through_the_api_are_refused(api, org):
    customer = blocked(org, may_spend=True)
    enrollment = EnrollmentFactory(customer=customer)
    response = api.post(
        f"/api/v1/customers/{customer.public_id}/points/",
        {"program_id": enrollment.program_id, "action": "award", "points": 10},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (409, "earning_blocked")
    assert response.json()["errors"][0]["field"] == "customer"
    assert not PointsTransaction.objects.exists()


def test_a_label_that_blocks_only_earning_still_lets_the_customer_spend(api, org):
    customer = blocked(org, may_spend=True)
    enrollment = funded_enrollment(customer)
    response = api.post(
        f"/api/v1/customers/{customer.public_id}/points/",
        {"program_id": enrollment.program_id, "action": "deduct", "points": 10},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["balance"] == 40


def test_a_reward_redeemed_through_the_api_is_refused(api, org):
    card = CustomerCardFactory(customer=blocked(org), stamps=5)
    coffee = RewardFactory(stamp_card=card.stamp_card, stamp_cost=5)
    response = api.post(
        f"/api/v1/cards/{card.code}/redeem/", {"reward_id": coffee.pk}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "spending_blocked")
    card.refresh_from_db()
    assert card.stamps == 5


def test_stamps_added_through_the_api_are_refused(api, org):
    card = CustomerCardFactory(customer=blocked(org))
    response = api.post(f"/api/v1/cards/{card.code}/stamps/", {"stamps": 1}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "earning_blocked")
    assert not StampTransaction.objects.exists()


def test_a_coupon_redeemed_through_the_api_is_refused(api, org):
    series = CouponSeries.objects.create(organization=org, description="10% off")
    coupon = Coupon.objects.create(organization=org, series=series, customer=blocked(org))
    response = api.post(f"/api/v1/coupons/{coupon.code}/redeem/")
    assert (response.status_code, response.json()["code"]) == (409, "spending_blocked")
    coupon.refresh_from_db()
    assert coupon.redeemed_at is None


def test_a_blocked_customers_welcome_stamps_are_skipped_with_a_warning(api, org):
    customer = blocked(org)
    stamp_card = StampCardFactory(organization=org, initial_stamps=2)
    response = api.post(
        f"/api/v1/customers/{customer.public_id}/cards/",
        {"stamp_card_id": stamp_card.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["card"]["stamps"] == 0
    assert [w["code"] for w in response.json()["warnings"]] == ["earning_blocked"]


def test_registering_a_blocked_customer_enrols_them_without_welcome_or_referral_points(org):
    StatusLabelFactory(
        organization=org, name="fraud", status=CustomerStatus.FRAUD_CONFIRMED, may_earn=False
    )
    program = ProgramFactory(
        organization=org, welcome_points=10, referee_points=5, referrer_points=7
    )
    referrer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=referrer, program=program)
    result = customer_register(
        organization=org,
        data=CustomerInput(
            first_name="Ana",
            email="ana@example.com",
            status_label="fraud",
            referral_code=referrer.referral_code,
            enrollments=[EnrollmentInput(program_id=program.pk, points=3)],
        ),
    )
    enrollment = result.customer.enrollments.get()
    assert enrollment.points_balance == 0
    assert [w.code for w in result.warnings] == ["earning_blocked"] * 3
    # The referrer, who may earn, is still rewarded.
    assert referrer.enrollments.get().points_balance == 7


def test_a_blocked_referrer_gets_no_referral_points_and_the_referee_is_not_told(org):
    program = ProgramFactory(organization=org, referee_points=5, referrer_points=7)
    referrer = CustomerFactory(organization=org, status=CustomerStatus.SUSPENDED)
    EnrollmentFactory(customer=referrer, program=program)
    result = customer_register(
        organization=org,
        data=CustomerInput(
            first_name="Ana",
            email="ana@example.com",
            referral_code=referrer.referral_code,
            enrollments=[EnrollmentInput(program_id=program.pk)],
        ),
    )
    assert result.customer.enrollments.get().points_balance == 5
    assert referrer.enrollments.get().points_balance == 0
    assert "earning_blocked" not in [w.code for w in result.warnings]
