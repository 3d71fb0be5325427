"""Staff see and change only their own organization's data in the admin; superusers see all."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from crm.actors import Actor
from crm.services import api_key_create
from crm.tenancy import for_organization
from customers.models import ExtendedFieldDefinition
from loyalty.models import CouponSeries
from loyalty.services.card_links import card_links_send
from loyalty.services.coupons import coupon_issue
from loyalty.services.earning_rules import earning_rule_create
from loyalty.services.enrolments import tier_set
from loyalty.services.points import points_award
from loyalty.services.purchases import transaction_record
from loyalty.services.returns import return_record
from loyalty.services.rewards_catalogue import points_reward_redeem
from loyalty.services.stamps import stamps_add
from tests.crm.factories import StoreFactory
from tests.customers.factories import (
    ChannelFactory,
    CustomerFactory,
    IdentifierFactory,
    StatusLabelFactory,
)
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    PointsRewardFactory,
    RewardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

MARK = "globexsecret"


def tenant_data(organization, mark):
    """One row of every tenant-owned model, each showing `mark` where the admin lists it."""
    store = StoreFactory(organization=organization, code=f"{mark}.till", name=f"{mark} store")
    label = StatusLabelFactory(organization=organization, name=f"{mark}-label")
    customer = CustomerFactory(
        organization=organization,
        first_name=mark,
        email=f"{mark}@example.com",
        registered_store=store,
        status_label=label,
    )
    IdentifierFactory(
        source_account__customer=customer, source_account__account_id=mark, value=f"{mark}-id"
    )
    ChannelFactory(customer=customer, value=f"{mark}@channel.example.com")
    ExtendedFieldDefinition.objects.create(
        organization=organization, name=f"{mark}_field", data_type="string"
    )
    enrollment = EnrollmentFactory(customer=customer, program__name=f"{mark} programme")
    TierFactory(program=enrollment.program, number=1, name=f"{mark} tier")
    points_award(
        organization=organization,
        enrollment=enrollment,
        points=5,
        reason=mark,
        actor=Actor("staff", mark),
    )
    card = CustomerCardFactory(customer=customer, stamp_card__name=f"{mark} card")
    RewardFactory(stamp_card=card.stamp_card, name=f"{mark} reward")
    api_key_create(organization=organization, name=f"{mark} key")
    actor = Actor("staff", mark)
    tier_set(organization=organization, enrollment=enrollment, tier_number=1, actor=actor)
    series = CouponSeries.objects.create(organization=organization, description=f"{mark} offer")
    coupon_issue(organization=organization, series=series, customer=customer, actor=actor)
    points_reward = PointsRewardFactory(
        program=enrollment.program,
        coupon_series=series,
        name=f"{mark} points reward",
        points_cost=1,
    )
    points_reward_redeem(
        organization=organization, customer=customer, reward=points_reward, actor=actor
    )
    card_links_send(organization=organization, card=card, actor=actor)
    stamps_add(organization=organization, card=card, stamps=1, actor=actor)
    earning_rule_create(
        program=enrollment.program,
        name=f"{mark} rule",
        kind="base_rate",
        parameters={"points": 1, "per": "1", "rounding": "down"},
        priority=1,
        active_from=None,
        active_until=None,
        actor=actor,
    )
    purchase = transaction_record(
        organization=organization,
        customer=customer,
        store_code=store.code,
        external_id=f"{mark}-purchase",
        occurred_at="2026-06-15T12:00:00Z",
        currency="EUR",
        lines=[{"sku": f"{mark}-sku", "category": f"{mark}-shoes", "quantity": 1, "unit_price": 5}],
        channel="INSTORE",
        actor=actor,
    ).transaction
    return_record(
        organization=organization,
        purchase=purchase,
        external_id=f"{mark}-return",
        occurred_at="2026-06-16T12:00:00Z",
        lines=[{"sku": f"{mark}-sku", "quantity": 1}],
        actor=actor,
    )
    return customer


def admin_urls():
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        yield model, model_admin, reverse("admin:{}_{}_changelist".format(*info))


def test_staff_see_none_of_another_organizations_data(staff_client, org, other_org):
    tenant_data(org, "acmevisible")
    foreign = tenant_data(other_org, MARK)
    pages = 0
    for _model, _admin, changelist in admin_urls():
        for url in (changelist, changelist + "?q=" + MARK, changelist + "add/"):
            response = staff_client.get(url)
            assert response.status_code in (200, 403), url
            page = response.content.decode().lower()
            # The search box shows what was searched for; nothing else may show the mark.
            for echo in (f'value="{MARK}"', f"q={MARK}", f"q%3d{MARK}"):
                page = page.replace(echo, "")
            assert MARK not in page, url
            pages += response.status_code == 200
    assert pages > 30
    response = staff_client.get(reverse("admin:customers_customer_changelist"))
    assert "acmevisible" in response.content.decode()
    change = reverse("admin:customers_customer_change", args=[foreign.pk])
    response = staff_client.get(change)
    assert response.status_code == 302
    assert MARK not in staff_client.get(change, follow=True).content.decode().lower()


def test_staff_cannot_open_another_organizations_rows(staff_client, org, other_org):
    tenant_data(other_org, MARK)
    opened = set()
    for model, _admin, _changelist in admin_urls():
        if not hasattr(model, "TENANT_PATH"):
            continue
        for obj in model._default_manager.all():
            info = (model._meta.app_label, model._meta.model_name)
            if not for_organization(
                model._default_manager.filter(pk=obj.pk), other_org.pk
            ).exists():
                continue
            url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
            assert staff_client.get(url).status_code in (302, 403), url
            assert staff_client.post(url, {}).status_code in (302, 403), url
            opened.add(model)
    tenant_models = {model for model, _, _ in admin_urls() if hasattr(model, "TENANT_PATH")}
    assert opened == tenant_models - {get_user_model()}


def test_staff_open_every_row_of_their_own(staff_client, org, other_org):
    tenant_data(org, "acmevisible")
    tenant_data(other_org, MARK)
    opened = 0
    for model, _admin, changelist in admin_urls():
        if not hasattr(model, "TENANT_PATH") or model._meta.model_name == "user":
            assert staff_client.get(changelist).status_code == 403, changelist
            continue
        info = (model._meta.app_label, model._meta.model_name)
        for obj in for_organization(model._default_manager.all(), org.pk):
            url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
            response = staff_client.get(url)
            assert response.status_code == 200, url
            assert MARK not in response.content.decode().lower(), url
            opened += 1
    assert opened >= 15


def test_staff_foreign_key_choices_are_their_own(staff_client, org, other_org):
    StoreFactory(organization=org, code="acme.till")
    StoreFactory(organization=other_org, code="globex.till")
    page = staff_client.get(reverse("admin:customers_customer_add")).content.decode()
    assert "acme.till" in page
    assert "globex.till" not in page
    assert "Globex" not in page


def test_superusers_see_every_organization(superuser_client, org, other_org):
    tenant_data(org, "acmevisible")
    tenant_data(other_org, MARK)
    page = superuser_client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "acmevisible" in page
    assert MARK in page


def test_staff_cannot_manage_users(staff_client):
    assert staff_client.get(reverse("admin:crm_user_changelist")).status_code == 403


def test_staff_see_global_extended_fields_but_cannot_change_them(staff_client, org):
    gender = ExtendedFieldDefinition.objects.get(organization=None, name="gender")
    listing = staff_client.get(reverse("admin:customers_extendedfielddefinition_changelist"))
    assert "gender" in listing.content.decode()
    url = reverse("admin:customers_extendedfielddefinition_change", args=[gender.pk])
    staff_client.post(url, {"name": "gender", "data_type": "string", "scope": "customer"})
    gender.refresh_from_db()
    assert gender.data_type == "enum"
