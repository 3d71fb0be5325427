"""A stamp card's design (the colours, icon and texts of its wallet passes): set through the
services, by the admin, on record in the configuration audit, and shown by the API."""

import pytest
from django.urls import reverse

from crm.errors import DomainError
from crm.models import ConfigurationChange
from loyalty.models import StampCard
from loyalty.services.stamp_cards import stamp_card_create, stamp_card_update
from tests.loyalty.factories import StampCardFactory

pytestmark = pytest.mark.django_db


def test_a_card_is_created_with_its_design_on_record(org):
    card = stamp_card_create(
        organization=org,
        name="Coffee",
        card_color="#6b4226",
        stamp_icon="coffee",
        auxiliary_fields=["Open daily", " ", "Since 1990"],
    )

    assert (card.card_color, card.stamp_icon) == ("#6B4226", "coffee")
    assert card.auxiliary_fields == ["Open daily", "Since 1990"]
    assert card.text_color == "#FFFFFF"  # not given: the default
    created = ConfigurationChange.objects.get(subject="stamp card")
    assert created.changes["card_color"] == [None, "#6B4226"]
    assert created.changes["strip_opacity"] == [None, 100]


@pytest.mark.parametrize(
    ("design", "field"),
    [
        ({"card_color": "brown"}, "card_color"),
        ({"strip_color": "#12345"}, "strip_color"),
        ({"stamp_icon": " "}, "stamp_icon"),
        ({"header_text": "x" * 101}, "header_text"),
        ({"strip_type": "image"}, "strip_type"),
        ({"strip_opacity": 101}, "strip_opacity"),
        ({"show_member_field": "yes"}, "show_member_field"),
        ({"auxiliary_fields": ["a", "b", "c"]}, "auxiliary_fields"),
        ({"auxiliary_fields": "a"}, "auxiliary_fields"),
    ],
)
def test_a_design_value_that_is_none_is_refused_naming_its_field(org, design, field):
    with pytest.raises(DomainError) as refused:
        stamp_card_create(organization=org, name="Coffee", **design)

    assert refused.value.field == field
    assert not StampCard.objects.exists()


def test_an_update_changes_the_design_given_and_keeps_the_rest(org):
    card = StampCardFactory(organization=org, name="Coffee", card_color="#111111")
    before = card.updated_at

    stamp_card_update(
        stamp_card=card,
        name="Coffee",
        store=None,
        initial_stamps=0,
        active=True,
        text_color="#000000",
    )

    card.refresh_from_db()
    assert (card.card_color, card.text_color) == ("#111111", "#000000")
    assert card.updated_at > before
    changed = ConfigurationChange.objects.get(subject="stamp card", action="changed")
    assert changed.changes == {"text_color": ["#FFFFFF", "#000000"]}


def test_the_admin_edits_the_design(staff_client, org):
    card = StampCardFactory(organization=org, name="Coffee")
    form = {
        "name": "Coffee",
        "initial_stamps": "0",
        "active": "on",
        "card_color": "#6B4226",
        "show_member_field": "False",
        "rewards-TOTAL_FORMS": "0",
        "rewards-INITIAL_FORMS": "0",
    }

    response = staff_client.post(reverse("admin:loyalty_stampcard_change", args=[card.pk]), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    card.refresh_from_db()
    assert (card.card_color, card.show_member_field, card.stamp_icon) == ("#6B4226", False, "star")
    changed = ConfigurationChange.objects.get(subject="stamp card", action="changed")
    assert changed.changes == {
        "card_color": ["#3C414C", "#6B4226"],
        "show_member_field": [True, False],
    }


def test_the_admin_names_a_wrong_design_value(staff_client, org):
    card = StampCardFactory(organization=org, name="Coffee")
    form = {
        "name": "Coffee",
        "initial_stamps": "0",
        "strip_opacity": "150",
        "rewards-TOTAL_FORMS": "0",
        "rewards-INITIAL_FORMS": "0",
    }

    response = staff_client.post(reverse("admin:loyalty_stampcard_change", args=[card.pk]), form)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["strip_opacity"]


def test_the_api_shows_a_cards_design(api, org):
    StampCardFactory(organization=org, name="Coffee", stamp_icon="coffee")

    [card] = api.get("/api/v1/stamp-cards/").json()["results"]

    assert (card["stamp_icon"], card["card_color"], card["auxiliary_fields"]) == (
        "coffee",
        "#3C414C",
        [],
    )
    assert card["updated_at"]
