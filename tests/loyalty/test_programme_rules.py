"""A programme's rules and tiers are read once per version: every change to them, by any writer,
counts for the next purchase, and purchases in between read neither."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.rules_versions import RulesVersion
from loyalty.services.purchases import purchase_simulate
from loyalty.transactions import EarningRule
from tests.crm.factories import StoreFactory
from tests.loyalty.factories import EnrollmentFactory, ProgramFactory, TierFactory
from tests.loyalty.test_purchases import NOON, SHOES, make_rule, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrollment(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    rule(enrollment.program, "base_rate", points=1, per="1", rounding="down")
    return enrollment


def rule(program, kind, **parameters):
    return make_rule(program, kind, name=kind, **parameters)


def points(org, enrollment, external_id):
    return record(org, enrollment.customer, external_id).points


def test_a_new_programme_has_a_version_and_each_change_gives_a_new_one(org):
    program = ProgramFactory(organization=org)
    versions = [RulesVersion.objects.get(program=program).version]
    made = rule(program, "base_rate", points=1, per="1", rounding="down")
    made.stores.add(StoreFactory(organization=org))
    EarningRule.objects.filter(pk=made.pk).update(priority=5)
    tier = TierFactory(program=program)
    tier.delete()
    made.delete()
    versions += [RulesVersion.objects.get(program=program).version]
    assert len(set(versions)) == 2


def test_a_rule_added_by_the_service_counts_for_the_next_purchase(org, enrollment):
    assert points(org, enrollment, "T-1") == 100
    rule(enrollment.program, "category_multiplier", category="shoes", multiplier="2")
    assert points(org, enrollment, "T-2") == 200


def test_a_rule_changed_outside_the_services_counts_for_the_next_purchase(org, enrollment):
    assert points(org, enrollment, "T-1") == 100
    EarningRule.objects.filter(program=enrollment.program).update(
        parameters={"points": 3, "per": "1", "rounding": "down"}
    )
    assert points(org, enrollment, "T-2") == 300
    EarningRule.objects.filter(program=enrollment.program).update(active_until=NOON)
    assert points(org, enrollment, "T-3") == 0


def test_a_rule_limited_to_a_store_counts_for_the_next_purchase(org, enrollment):
    assert points(org, enrollment, "T-1") == 100
    EarningRule.objects.get(program=enrollment.program).stores.add(StoreFactory(organization=org))
    assert points(org, enrollment, "T-2") == 0  # bought in no store: the rule does not apply


def test_a_tier_added_outside_the_services_is_reached_by_the_next_purchase(org, enrollment):
    points(org, enrollment, "T-1")
    gold = TierFactory(program=enrollment.program, number=2, points_threshold=150)
    points(org, enrollment, "T-2")
    enrollment.refresh_from_db()
    assert enrollment.tier == gold


def test_purchases_read_the_rules_and_tiers_only_after_they_changed(org, enrollment):
    def tables_read(external_id):
        with CaptureQueriesContext(connection) as queries:
            points(org, enrollment, external_id)
        return {
            table
            for query in queries.captured_queries
            for table in ("loyalty_earningrule", "loyalty_tier")
            if f'FROM "{table}"' in query["sql"]
        }

    tables_read("T-1")
    assert tables_read("T-2") == set()
    TierFactory(program=enrollment.program)
    assert tables_read("T-3") == {"loyalty_earningrule", "loyalty_tier"}
    assert tables_read("T-4") == set()


def test_a_simulation_counts_a_rule_added_since_its_programme_was_read(org, enrollment):
    program = enrollment.program

    def simulated():
        return purchase_simulate(
            program=program,
            customer=None,
            store_code=None,
            occurred_at=None,
            currency="EUR",
            lines=SHOES,
        ).points

    assert simulated() == 100
    rule(program, "category_multiplier", category="shoes", multiplier="2")
    assert simulated() == 200
