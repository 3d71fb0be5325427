"""Configuration changes made in the admin go through the services and are on record: before and
after values, and the staff member who made them. The API's changes are recorded alike."""

import pytest
from django.urls import reverse

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import ApiKey, ConfigurationChange, Store
from crm.services import store_create, store_delete
from crm.tenancy import for_organization
from customers.models import ExtendedFieldDefinition, StatusLabel
from loyalty.models import CouponSeries, Program, Reward, StampCard
from loyalty.tiers import Tier
from tests.crm.factories import StoreFactory
from tests.customers.factories import StatusLabelFactory
from tests.loyalty.factories import (
    EnrollmentFactory,
    ProgramFactory,
    RewardFactory,
    StampCardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db


def no_inlines(prefix: str) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def existing_inlines(prefix: str, rows) -> dict:
    data = {**no_inlines(prefix), f"{prefix}-TOTAL_FORMS": str(len(rows))}
    data[f"{prefix}-INITIAL_FORMS"] = str(len(rows))
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"{prefix}-{index}-{name}"] = value
    return data


# Per configuration object: the admin's add form, a change of it, and what each records.
# `make` gives the add form's data for the organization; `change` the change form's for the
# object created.
CASES = {
    "store": {
        "model": Store,
        "make": lambda org: {
            "organization": org.pk,
            "code": "bukl.till",
            "name": "Bukl",
            "active": "on",
        },
        "created": {"code": [None, "bukl.till"], "name": [None, "Bukl"], "active": [None, True]},
        "change": lambda obj: {"name": "Bukl Central"},
        "changed": {"name": ["Bukl", "Bukl Central"], "active": [True, False]},
    },
    "status label": {
        "model": StatusLabel,
        "make": lambda org: {"organization": org.pk, "name": "vip", "status": "active"},
        "created": {"name": [None, "vip"], "status": [None, "active"], "is_default": [None, False]},
        "change": lambda obj: {
            "name": "vip",
            "status": "suspended",
            "is_default": "on",
            "may_earn": "on",
            "may_spend": "on",
        },
        "changed": {"status": ["active", "suspended"], "is_default": [False, True]},
    },
    "extended field definition": {
        "model": ExtendedFieldDefinition,
        "make": lambda org: {
            "organization": org.pk,
            "name": "shoe_size",
            "data_type": "enum",
            "allowed_values": '["38", "39"]',
            "scope": "customer",
        },
        "created": {
            "name": [None, "shoe_size"],
            "data_type": [None, "enum"],
            "allowed_values": [None, ["38", "39"]],
            "scope": [None, "customer"],
        },
        "change": lambda obj: {"allowed_values": '["38", "39", "40"]'},
        "changed": {"allowed_values": [["38", "39"], ["38", "39", "40"]]},
    },
    "coupon series": {
        "model": CouponSeries,
        "make": lambda org: {
            "organization": org.pk,
            "description": "Free coffee",
            "discount_code": "COFFEE",
            "valid_days": "30",
            "active": "on",
        },
        "created": {
            "description": [None, "Free coffee"],
            "discount_code": [None, "COFFEE"],
            "valid_days": [None, 30],
            "valid_until": [None, None],
            "active": [None, True],
        },
        "change": lambda obj: {
            "description": "Free coffee",
            "discount_code": "COFFEE2",
            "valid_days": "",
            "active": "on",
        },
        "changed": {"discount_code": ["COFFEE", "COFFEE2"], "valid_days": [30, None]},
    },
    "program": {
        "model": Program,
        "make": lambda org: {
            "organization": org.pk,
            "name": "Club",
            "active": "on",
            "welcome_points": "10",
            "referrer_points": "0",
            "referee_points": "0",
            "pending_days": "0",
            "clawback_policy": "within_balance",
            **no_inlines("tiers"),
            **no_inlines("earning_rules"),
        },
        "created": {"name": [None, "Club"], "welcome_points": [None, 10], "active": [None, True]},
        "change": lambda obj: {
            "name": "Club",
            "active": "on",
            "welcome_points": "25",
            "referrer_points": "5",
            "referee_points": "0",
            "pending_days": "0",
            "clawback_policy": "within_balance",
            **no_inlines("tiers"),
            **no_inlines("earning_rules"),
        },
        "changed": {"welcome_points": [10, 25], "referrer_points": [0, 5]},
    },
    "tier": {
        "model": Tier,
        "make": lambda org: {
            "program": ProgramFactory(organization=org, name="Club").pk,
            "number": "1",
            "name": "Silver",
            "points_threshold": "",
        },
        "created": {
            "program": [None, "Club"],
            "number": [None, 1],
            "name": [None, "Silver"],
            "points_threshold": [None, None],
        },
        "change": lambda obj: {"number": "1", "name": "Gold", "points_threshold": "500"},
        "changed": {"name": ["Silver", "Gold"], "points_threshold": [None, 500]},
    },
    "stamp card": {
        "model": StampCard,
        "make": lambda org: {
            "organization": org.pk,
            "name": "Coffee card",
            "initial_stamps": "1",
            "active": "on",
            **no_inlines("rewards"),
        },
        "created": {
            "name": [None, "Coffee card"],
            "store": [None, None],
            "initial_stamps": [None, 1],
            "active": [None, True],
        },
        "change": lambda obj: {
            "name": "Coffee card",
            "store": StoreFactory(organization=obj.organization, name="Bukl").pk,
            "initial_stamps": "2",
            "active": "on",
            **no_inlines("rewards"),
        },
        "changed": {"store": [None, "Bukl"], "initial_stamps": [1, 2]},
    },
    "reward": {
        "model": Reward,
        "make": lambda org: {
            "stamp_card": StampCardFactory(organization=org, name="Coffee card").pk,
            "name": "Free latte",
            "stamp_cost": "8",
            "active": "on",
        },
        "created": {
            "stamp_card": [None, "Coffee card"],
            "name": [None, "Free latte"],
            "stamp_cost": [None, 8],
            "active": [None, True],
        },
        "change": lambda obj: {"name": "Free latte", "stamp_cost": "10"},
        "changed": {"stamp_cost": [8, 10], "active": [True, False]},
    },
}


def admin_url(model, view, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def last_change(subject: str) -> ConfigurationChange:
    return ConfigurationChange.objects.filter(subject=subject).latest("pk")


def assert_by(change: ConfigurationChange, staff) -> None:
    assert change.actor == f"staff:{staff.pk} {staff.username}"
    assert change.request_id


@pytest.mark.parametrize("subject", CASES)
def test_an_admin_create_change_and_delete_are_each_on_record(staff_client, staff, org, subject):
    case = CASES[subject]
    model = case["model"]

    response = staff_client.post(admin_url(model, "add"), case["make"](org))

    assert response.status_code == 302, response.context["adminform"].form.errors
    obj = for_organization(model.objects.all(), org.pk).get()
    created = last_change(subject)
    assert (created.organization_id, created.object_id, created.action) == (
        org.pk,
        obj.pk,
        "created",
    )
    assert case["created"].items() <= created.changes.items()
    assert_by(created, staff)

    response = staff_client.post(admin_url(model, "change", obj.pk), case["change"](obj))

    assert response.status_code == 302, response.context["adminform"].form.errors
    changed = last_change(subject)
    assert (changed.object_id, changed.action) == (obj.pk, "changed")
    assert changed.changes == case["changed"]
    assert changed.object_repr == str(model.objects.get(pk=obj.pk))
    assert_by(changed, staff)

    response = staff_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not model.objects.filter(pk=obj.pk).exists()
    deleted = last_change(subject)
    assert (deleted.object_id, deleted.action) == (obj.pk, "deleted")
    last_values = {name: after for name, (_, after) in case["created"].items()}
    last_values.update({name: after for name, (_, after) in case["changed"].items()})
    assert last_values.items() <= {name: b for name, (b, _) in deleted.changes.items()}.items()
    assert all(after is None for _, after in deleted.changes.values())
    assert_by(deleted, staff)


def test_an_unchanged_save_records_nothing(staff_client, org):
    store = StoreFactory(organization=org, name="Bukl", active=True)

    staff_client.post(admin_url(Store, "change", store.pk), {"name": "Bukl", "active": "on"})

    assert not ConfigurationChange.objects.exists()


def test_a_bulk_delete_records_each_row(staff_client, staff, org):
    stores = StoreFactory.create_batch(2, organization=org)

    staff_client.post(
        admin_url(Store, "changelist"),
        {"action": "delete_selected", "_selected_action": [s.pk for s in stores], "post": "yes"},
    )

    assert not Store.objects.exists()
    deleted = ConfigurationChange.objects.filter(action="deleted")
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(s.pk for s in stores)
    for change in deleted:
        assert_by(change, staff)


def test_tiers_and_rewards_saved_inline_are_on_record(staff_client, staff, org):
    program = ProgramFactory(organization=org, name="Club")
    gold = TierFactory(program=program, number=2, name="Gold")
    card = StampCardFactory(organization=org, name="Coffee card")
    latte = RewardFactory(stamp_card=card, name="Latte", stamp_cost=8)
    program_form = {
        "name": "Club",
        "active": "on",
        "welcome_points": "0",
        "referrer_points": "0",
        "referee_points": "0",
        "pending_days": "0",
        "clawback_policy": "within_balance",
    }
    tiers = existing_inlines(
        "tiers",
        [
            {"id": gold.pk, "program": program.pk, "number": "2", "name": "Gold", "DELETE": "on"},
            {"program": program.pk, "number": "1", "name": "Silver", "points_threshold": "100"},
        ],
    )
    tiers["tiers-INITIAL_FORMS"] = "1"
    tiers.update(no_inlines("earning_rules"))

    response = staff_client.post(
        admin_url(Program, "change", program.pk), {**program_form, **tiers}
    )

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    silver = Tier.objects.get()
    tier_changes = ConfigurationChange.objects.filter(subject="tier").order_by("pk")
    assert [(c.object_id, c.action) for c in tier_changes] == [
        (gold.pk, "deleted"),
        (silver.pk, "created"),
    ]
    assert tier_changes[1].changes["points_threshold"] == [None, 100]

    rewards = existing_inlines(
        "rewards",
        [
            {
                "id": latte.pk,
                "stamp_card": card.pk,
                "name": "Latte",
                "stamp_cost": "6",
                "active": "on",
            }
        ],
    )
    response = staff_client.post(
        admin_url(StampCard, "change", card.pk),
        {"name": "Coffee card", "initial_stamps": "0", "active": "on", **rewards},
    )

    assert response.status_code == 302
    reward_change = last_change("reward")
    assert (reward_change.object_id, reward_change.action) == (latte.pk, "changed")
    assert reward_change.changes == {"stamp_cost": [8, 6]}
    for change in ConfigurationChange.objects.all():
        assert_by(change, staff)


def test_a_programme_deleted_takes_its_tiers_on_record(staff_client, org):
    program = ProgramFactory(organization=org)
    tier = TierFactory(program=program, number=1)

    staff_client.post(admin_url(Program, "delete", program.pk), {"post": "yes"})

    assert last_change("tier").object_id == tier.pk
    assert last_change("tier").action == "deleted"


def test_api_keys_created_renamed_and_revoked_in_the_admin_are_on_record(staff_client, staff, org):
    staff_client.post(admin_url(ApiKey, "add"), {"organization": org.pk, "name": "Till"})
    key = ApiKey.objects.get()
    staff_client.post(admin_url(ApiKey, "change", key.pk), {"name": "Till 2"})
    staff_client.post(
        admin_url(ApiKey, "changelist"), {"action": "revoke", "_selected_action": [key.pk]}
    )

    changes = list(ConfigurationChange.objects.filter(subject="api key").order_by("pk"))
    assert [c.action for c in changes] == ["created", "changed", "revoked"]
    assert changes[0].changes == {"name": [None, "Till"], "prefix": [None, key.prefix]}
    assert changes[1].changes == {"name": ["Till", "Till 2"]}
    key.refresh_from_db()
    assert changes[2].changes == {"revoked_at": [None, key.revoked_at.isoformat()]}
    for change in changes:
        assert_by(change, staff)


def admin_form_errors(response) -> dict[str, list[tuple[str, str]]]:
    form = response.context["adminform"].form
    return {
        name: [(error.code, error.messages[0]) for error in errors]
        for name, errors in form.errors.as_data().items()
    }


def test_an_extended_field_the_api_refuses_the_admin_refuses_alike(staff_client, org, api):
    refused = api.post(
        "/api/v1/extended-fields/", {"name": "Shoe-Size", "data_type": "string"}, format="json"
    ).json()["errors"][0]

    response = staff_client.post(
        admin_url(ExtendedFieldDefinition, "add"),
        {"organization": org.pk, "name": "Shoe-Size", "data_type": "string", "scope": "customer"},
    )

    assert response.status_code == 200
    assert admin_form_errors(response) == {"name": [(refused["code"], refused["message"])]}
    assert refused["code"] == ErrorCode.INVALID
    assert not ExtendedFieldDefinition.objects.filter(organization=org).exists()


@pytest.mark.parametrize(
    ("model", "existing", "form", "field", "code"),
    [
        (
            Store,
            lambda org: StoreFactory(organization=org, code="bukl.till"),
            lambda org: {"organization": org.pk, "code": "bukl.till", "name": "Bukl"},
            "code",
            ErrorCode.STORE_CODE_TAKEN,
        ),
        (
            StatusLabel,
            lambda org: StatusLabelFactory(organization=org, name="VIP"),
            lambda org: {"organization": org.pk, "name": "vip", "status": "active"},
            "name",
            ErrorCode.STATUS_LABEL_TAKEN,
        ),
        (
            StatusLabel,
            lambda org: StatusLabelFactory(organization=org, name="regular", is_default=True),
            lambda org: {
                "organization": org.pk,
                "name": "vip",
                "status": "active",
                "is_default": "on",
            },
            "is_default",
            ErrorCode.DEFAULT_STATUS_LABEL_TAKEN,
        ),
        (
            Program,
            lambda org: ProgramFactory(organization=org, name="Club"),
            lambda org: {
                "organization": org.pk,
                "name": "Club",
                "welcome_points": "0",
                "referrer_points": "0",
                "referee_points": "0",
                "pending_days": "0",
                "clawback_policy": "within_balance",
                **no_inlines("tiers"),
                **no_inlines("earning_rules"),
                **no_inlines("earning_rules"),
            },
            "name",
            ErrorCode.PROGRAM_TAKEN,
        ),
    ],
)
def test_the_admin_shows_the_services_refusal_on_its_field(
    staff_client, org, model, existing, form, field, code
):
    existing(org)

    response = staff_client.post(admin_url(model, "add"), form(org))

    assert response.status_code == 200
    errors = admin_form_errors(response)
    assert list(errors) == [field]
    assert errors[field][0][0] == code
    assert not ConfigurationChange.objects.exists()


def test_a_tier_number_taken_is_refused_on_the_inline_field(staff_client, org):
    program = ProgramFactory(organization=org, name="Club")
    TierFactory(program=program, number=1)

    response = staff_client.post(
        admin_url(Tier, "add"), {"program": program.pk, "number": "1", "name": "Again"}
    )

    assert admin_form_errors(response) == {
        "number": [(ErrorCode.TIER_TAKEN, "'Club' has a tier number 1.")]
    }


def test_the_api_and_the_admin_record_a_store_alike(api, api_key, staff_client, staff, org):
    api.post("/api/v1/stores/", {"code": "api.till", "name": "API"}, format="json")
    staff_client.post(
        admin_url(Store, "add"),
        {"organization": org.pk, "code": "admin.till", "name": "Admin", "active": "on"},
    )

    by_api, by_admin = ConfigurationChange.objects.filter(subject="store").order_by("pk")
    assert by_api.changes.keys() == by_admin.changes.keys() == {"code", "name", "active"}
    assert by_api.actor == f"api_key:{api_key[0].pk} {api_key[0].prefix}"
    assert by_api.request_id
    assert_by(by_admin, staff)


def test_the_api_records_extended_field_changes(api, api_key, org):
    field_id = api.post(
        "/api/v1/extended-fields/",
        {"name": "size", "data_type": "enum", "allowed_values": ["S"]},
        format="json",
    ).json()["id"]
    api.patch(f"/api/v1/extended-fields/{field_id}/", {"allowed_values": ["S", "M"]}, format="json")
    api.delete(f"/api/v1/extended-fields/{field_id}/")

    changes = ConfigurationChange.objects.filter(object_id=field_id).order_by("pk")
    assert [c.action for c in changes] == ["created", "changed", "deleted"]
    assert changes[1].changes == {"allowed_values": [["S"], ["S", "M"]]}
    assert {c.actor for c in changes} == {f"api_key:{api_key[0].pk} {api_key[0].prefix}"}


def test_a_store_in_use_is_not_deleted_and_nothing_is_recorded(org):
    store = store_create(organization=org, code="bukl.till", name="Bukl")
    StampCardFactory(organization=org, store=store)
    recorded = ConfigurationChange.objects.count()

    with pytest.raises(DomainError) as refused:
        store_delete(store=store, actor=Actor("staff", "1 someone"))

    assert refused.value.code == ErrorCode.IN_USE
    assert Store.objects.filter(pk=store.pk).exists()
    assert ConfigurationChange.objects.count() == recorded


def test_global_extended_fields_are_on_record_for_superusers(superuser_client):
    superuser_client.post(
        admin_url(ExtendedFieldDefinition, "add"),
        {"name": "nickname", "data_type": "string", "scope": "customer"},
    )

    change = last_change("extended field definition")
    assert change.organization_id is None
    assert change.changes["name"] == [None, "nickname"]
    assert superuser_client.get(admin_url(ConfigurationChange, "changelist")).status_code == 200


def test_staff_see_their_organizations_configuration_changes_only(staff_client, org, other_org):
    store_create(organization=org, code="ours.till", name="Ours")
    store_create(organization=other_org, code="theirs.till", name="Theirs")

    page = staff_client.get(admin_url(ConfigurationChange, "changelist")).content.decode()

    assert "ours.till" in page
    assert "theirs.till" not in page
    theirs = ConfigurationChange.objects.get(organization=other_org)
    response = staff_client.get(admin_url(ConfigurationChange, "change", theirs.pk))
    assert response.status_code in (302, 404)


def test_a_tier_members_are_in_is_not_deleted_inline(staff_client, org):
    program = ProgramFactory(organization=org, name="Club")
    gold = TierFactory(program=program, number=1, name="Gold")
    EnrollmentFactory(customer__organization=org, program=program, tier=gold)
    tiers = existing_inlines(
        "tiers", [{"id": gold.pk, "program": program.pk, "number": "1", "name": "Gold"}]
    )
    tiers["tiers-0-DELETE"] = "on"

    response = staff_client.post(
        admin_url(Program, "change", program.pk),
        {
            "name": "Club",
            "active": "on",
            "welcome_points": "0",
            "referrer_points": "0",
            "referee_points": "0",
            "pending_days": "0",
            "clawback_policy": "within_balance",
            **tiers,
        },
    )

    assert response.status_code == 200
    assert Tier.objects.filter(pk=gold.pk).exists()
    assert not ConfigurationChange.objects.exists()
