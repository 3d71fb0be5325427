"""Earning rules are edited on their programme's admin page through the services; purchases are
only read there."""

import pytest
from django.urls import reverse

from crm.models import ConfigurationChange
from loyalty.models import Program
from loyalty.transactions import EarningRule, Transaction
from tests.crm.factories import StoreFactory
from tests.loyalty.factories import EarningRuleFactory, ProgramFactory, TransactionFactory

pytestmark = pytest.mark.django_db


def management(prefix: str, total: int = 0, initial: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def program_form(program, rule: dict) -> dict:
    data = {
        "name": program.name,
        "active": "on",
        "welcome_points": "0",
        "referrer_points": "0",
        "referee_points": "0",
        "pending_days": "0",
        "clawback_policy": "within_balance",
        **management("tiers"),
        **management("earning_rules", total=1),
    }
    data.update({f"earning_rules-0-{name}": value for name, value in rule.items()})
    data["earning_rules-0-program"] = program.pk
    return data


def change_url(program) -> str:
    return reverse("admin:loyalty_program_change", args=[program.pk])


def test_a_rule_is_added_inline_on_record(staff_client, org):
    program = ProgramFactory(organization=org, name="Club")
    store = StoreFactory(organization=org)

    response = staff_client.post(
        change_url(program),
        program_form(
            program,
            {
                "name": "Double shoes",
                "kind": "category_multiplier",
                "parameters": '{"category": "shoes", "multiplier": 2}',
                "priority": "10",
                "stores": [store.pk],
            },
        ),
    )

    assert response.status_code == 302, response.context["inline_admin_formsets"][1].formset.errors
    rule = EarningRule.objects.get()
    assert rule.parameters == {"category": "shoes", "multiplier": "2"}
    assert list(rule.stores.all()) == [store]
    change = ConfigurationChange.objects.get(subject="earning rule")
    assert change.action == "created"


def test_a_rule_the_service_refuses_is_not_saved(staff_client, org):
    program = ProgramFactory(organization=org, name="Club")

    response = staff_client.post(
        change_url(program),
        program_form(
            program,
            {
                "name": "Broken",
                "kind": "base_rate",
                "parameters": '{"points": 1, "per": "0", "rounding": "down"}',
                "priority": "10",
            },
        ),
    )

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][1].formset.errors
    assert "parameters" in errors[0]
    assert not EarningRule.objects.exists()
    assert Program.objects.get(pk=program.pk).name == "Club"


def test_the_purchase_list_is_read_only(staff_client, org):
    purchase = TransactionFactory(customer__organization=org, external_id="SEEN-1")
    EarningRuleFactory(program__organization=org)

    listed = staff_client.get(reverse("admin:loyalty_transaction_changelist"))
    page = staff_client.get(reverse("admin:loyalty_transaction_change", args=[purchase.pk]))

    assert "SEEN-1" in listed.content.decode()
    assert page.status_code == 200
    assert staff_client.get(reverse("admin:loyalty_transaction_add")).status_code == 403
    staff_client.post(
        reverse("admin:loyalty_transaction_delete", args=[purchase.pk]), {"post": "yes"}
    )
    assert Transaction.objects.filter(pk=purchase.pk).exists()
