from decimal import Decimal

import factory
from django.utils import timezone

from loyalty.models import (
    CouponSeries,
    CustomerCard,
    Enrollment,
    PointsTransaction,
    Program,
    Reward,
    StampCard,
)
from loyalty.points_rewards import PointsReward
from loyalty.tiers import Tier
from loyalty.transactions import EarningRule, Transaction, TransactionLine
from tests.crm.factories import OrganizationFactory
from tests.customers.factories import CustomerFactory


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Programme {n}")


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    program = factory.SubFactory(ProgramFactory)
    number = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Tier {n}")


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    customer = factory.SubFactory(CustomerFactory)
    program = factory.SubFactory(
        ProgramFactory, organization=factory.SelfAttribute("..customer.organization")
    )


class AwardFactory(factory.django.DjangoModelFactory):
    """An award row alone, at a given `created_at`, without the balance or the tier it moves."""

    class Meta:
        model = PointsTransaction

    enrollment = factory.SubFactory(EnrollmentFactory)
    kind = "award"
    points = 10
    actor = "test"


class StampCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StampCard

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Stamp card {n}")


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    stamp_card = factory.SubFactory(StampCardFactory)
    name = factory.Sequence(lambda n: f"Reward {n}")
    stamp_cost = 5


class CustomerCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerCard

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    stamp_card = factory.SubFactory(
        StampCardFactory, organization=factory.SelfAttribute("..customer.organization")
    )


class TransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transaction

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    external_id = factory.Sequence(lambda n: f"order-{n}")
    occurred_at = factory.LazyFunction(timezone.now)
    currency = "EUR"
    total_amount = Decimal("10.00")
    channel = "INSTORE"
    actor = "test"


class TransactionLineFactory(factory.django.DjangoModelFactory):
    """A line of the whole of its purchase's total, by default."""

    class Meta:
        model = TransactionLine

    transaction = factory.SubFactory(TransactionFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    quantity = 1
    unit_price = factory.SelfAttribute("transaction.total_amount")
    line_amount = factory.SelfAttribute("transaction.total_amount")


class EarningRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EarningRule

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = "base_rate"
    parameters = factory.LazyFunction(lambda: {"points": 1, "per": "1", "rounding": "down"})


class CouponSeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CouponSeries

    organization = factory.SubFactory(OrganizationFactory)
    description = factory.Sequence(lambda n: f"Coupon {n}")


class PointsRewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PointsReward

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Points reward {n}")
    points_cost = 100
    coupon_series = factory.SubFactory(
        CouponSeriesFactory, organization=factory.SelfAttribute("..program.organization")
    )
