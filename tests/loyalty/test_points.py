"""Points as lots: spending takes the lots that expire first; expiry is written once."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.actors import Actor
from crm.errors import ErrorCode
from customers.services.update import customer_delete
from loyalty.models import Enrollment, PointsLot, PointsTransaction
from loyalty.services.points import points_award, points_deduct, points_expire_due
from tests.assertions import refused
from tests.loyalty.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db
CLERK = Actor("staff", "7 clerk")


def days(n):
    return timezone.now() + dt.timedelta(days=n)


def award(enrollment, points, expires_at=None, **extra):
    organization = enrollment.customer.organization
    return points_award(
        organization=organization,
        enrollment=enrollment,
        points=points,
        expires_at=expires_at,
        actor=CLERK,
        **extra,
    )


def deduct(enrollment, points):
    organization = enrollment.customer.organization
    return points_deduct(
        organization=organization, enrollment=enrollment, points=points, actor=CLERK
    )


def ledger_sum(enrollment):
    return (
        PointsTransaction.objects.filter(enrollment=enrollment).aggregate(s=Sum("points"))["s"] or 0
    )


def remaining(enrollment):
    return list(
        PointsLot.objects.filter(enrollment=enrollment)
        .order_by("award__created_at", "pk")
        .values_list("remaining", flat=True)
    )


def test_deduction_spends_the_lots_that_expire_first(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    award(enrollment, 100)  # never expires
    award(enrollment, 50, days(30))
    award(enrollment, 40, days(10))
    deduct(enrollment, 60)
    assert remaining(enrollment) == [100, 30, 0]
    deduct(enrollment, 50)
    assert remaining(enrollment) == [80, 0, 0]
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 80 == ledger_sum(enrollment)


def test_expired_points_cannot_be_spent(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    award(enrollment, 100, days(-1))
    award(enrollment, 20)
    with refused(ErrorCode.INSUFFICIENT_POINTS, "points") as caught:
        deduct(enrollment, 30)
    assert "balance is 20" in caught.value.message
    enrollment.refresh_from_db()
    # The refused deduction wrote nothing, not even the expiry it found due.
    assert enrollment.points_balance == 120
    deduct(enrollment, 20)
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 0 == ledger_sum(enrollment)
    assert PointsTransaction.objects.filter(kind="expire").get().points == -100


def test_expiry_writes_one_row_per_lot_and_only_once(org):
    first = EnrollmentFactory(customer__organization=org)
    second = EnrollmentFactory(customer__organization=org)
    award(first, 100, days(-2))
    award(first, 10, days(5))
    award(second, 7, days(-1))
    award(second, 3)

    expired = points_expire_due()
    again = points_expire_due()

    assert (expired.lots, expired.points) == (2, 107)
    assert (again.lots, again.points) == (0, 0)
    for enrollment, balance in [(first, 10), (second, 3)]:
        enrollment.refresh_from_db()
        assert enrollment.points_balance == balance == ledger_sum(enrollment)
    rows = PointsTransaction.objects.filter(kind="expire")
    assert sorted(rows.values_list("points", flat=True)) == [-100, -7]
    assert all(row.expired_lot.remaining == 0 for row in rows)


def test_expiry_takes_what_remains_of_a_partly_spent_lot(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    award(enrollment, 100, days(1))
    deduct(enrollment, 30)
    PointsLot.objects.update(expires_at=days(-1))
    points_expire_due()
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 0
    assert PointsTransaction.objects.get(kind="expire").points == -70


def test_expire_points_command_reports_and_changes_nothing_the_second_time(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    award(enrollment, 25, days(-1))

    def run():
        out = io.StringIO()
        call_command("expire_points", stdout=out)
        return out.getvalue()

    assert "Expired 25 points in 1 lot" in run()
    assert "Expired 0 points in 0 lots" in run()
    assert PointsTransaction.objects.filter(kind="expire").count() == 1


def test_a_customer_with_expired_points_can_be_deleted(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    award(enrollment, 25, days(-1))
    points_expire_due()
    customer_delete(customer=enrollment.customer)
    assert not PointsTransaction.objects.exists()
    assert not Enrollment.objects.exists()


def test_expire_points_for_one_organization(org, other_org):
    mine = EnrollmentFactory(customer__organization=org)
    theirs = EnrollmentFactory(customer__organization=other_org)
    award(mine, 5, days(-1))
    award(theirs, 5, days(-1))
    call_command("expire_points", "--org", org.slug, stdout=io.StringIO())
    theirs.refresh_from_db()
    assert theirs.points_balance == 5


# --- the ledger invariant under any sequence of operations -------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("award"),
            st.integers(1, 500),
            st.sampled_from([None, -3, -1, 1, 2, 30]),  # expiry in days from now
        ),
        st.tuples(st.just("deduct"), st.integers(1, 800), st.none()),
        st.tuples(st.just("expire"), st.none(), st.none()),
    ),
    max_size=12,
)


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_balance_always_equals_the_ledger(org, ops):
    enrollment = EnrollmentFactory(customer__organization=org)
    now = timezone.now()
    lots = []  # [remaining, expires_at] for each award: what the test expects

    def expire_model_lots():
        for lot in lots:
            if lot[1] is not None and lot[1] <= timezone.now():
                lot[0] = 0

    for name, points, expiry_days in ops:
        if name == "award":
            expires_at = None if expiry_days is None else now + dt.timedelta(days=expiry_days)
            award(enrollment, points, expires_at)
            lots.append([points, expires_at])
        elif name == "deduct":
            live = [lot for lot in lots if lot[1] is None or lot[1] > timezone.now()]
            if points > sum(lot[0] for lot in live):
                with refused(ErrorCode.INSUFFICIENT_POINTS):
                    deduct(enrollment, points)
                continue
            deduct(enrollment, points)
            expire_model_lots()  # a deduction first writes the expiries that are due
            for lot in sorted(live, key=lambda lot: (lot[1] is None, lot[1] or now)):
                spent = min(lot[0], points)
                lot[0] -= spent
                points -= spent
        else:
            points_expire_due()
            expire_model_lots()
        enrollment.refresh_from_db()
        assert enrollment.points_balance >= 0
        assert enrollment.points_balance == ledger_sum(enrollment)
        assert remaining(enrollment) == [lot[0] for lot in lots]
        assert enrollment.points_balance == sum(remaining(enrollment))
