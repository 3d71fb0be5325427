import datetime as dt

import pytest
from rest_framework.test import APIClient

from crm.services import api_key_create
from customers.choices import LoyaltyType
from customers.models import AuditEvent, Customer, SourceAccount
from loyalty.models import CouponSeries, Enrollment
from tests.compat.capillary.client import CUSTOMERS, basic
from tests.compat.fixtures import examples, load, same_shape
from tests.customers.factories import CustomerFactory

REGISTRATIONS = examples("capillary", "*_register_*.json")
REPLIES = [load("capillary", name) for name in examples("capillary", "reply_*.json")]


def documented(kind: str) -> dict:
    """A documented side effect or warning of this type (its keys and value types)."""
    entries = [e for reply in REPLIES for e in reply["sideEffects"] if e["type"] == kind]
    return entries[0]


def assert_documented_shape(reply: dict) -> None:
    assert same_shape(reply, {"createdId": 1, "warnings": [], "sideEffects": []}) == []
    for warning in reply["warnings"]:
        assert same_shape(warning, REPLIES[0]["warnings"][0]) == []
    for effect in reply["sideEffects"]:
        assert same_shape(effect, documented(effect["type"])) == []


@pytest.mark.parametrize("name", REGISTRATIONS)
def test_every_documented_registration_is_accepted_verbatim(capillary, name):
    response = capillary.post(CUSTOMERS, load("capillary", name), format="json")

    assert response.status_code == 200, response.json()
    reply = response.json()
    assert_documented_shape(reply)
    customer = Customer.objects.get(pk=reply["createdId"])
    read = capillary.get(f"{CUSTOMERS}/{customer.pk}").json()
    sent = load("capillary", name)
    assert [p["source"] for p in read["profiles"]] == [p["source"] for p in sent["profiles"]]
    sent_values = {(i["type"], i["value"]) for p in sent["profiles"] for i in p["identifiers"]}
    stored = {(i["type"], i["value"]) for p in read["profiles"] for i in p["identifiers"]}
    assert len(stored) == len(sent_values)


def test_the_first_example_reads_back_as_sent(capillary):
    reply = capillary.post(
        CUSTOMERS, load("capillary", "1_register_instore_mobile_email.json"), format="json"
    ).json()

    assert reply["warnings"] == [
        {"status": False, "code": 8107, "message": "Default customer status label not set"}
    ]
    assert reply["sideEffects"] == []
    customer = Customer.objects.get(pk=reply["createdId"])
    assert (customer.first_name, customer.last_name) == ("Customer_add_1", "Test123")
    assert customer.phone == "+918795779625"  # read in the organization's region, IN
    assert customer.email == "capillary1.1@example.com"
    enrollment = Enrollment.objects.get(customer=customer)
    assert (enrollment.program_id, enrollment.tier.number) == (469, 1)
    channels = {c.type: c for c in customer.channels.all()}
    assert channels["mobile"].primary
    assert channels["mobile"].verified
    assert channels["mobile"].residence


def test_points_at_registration_are_a_documented_side_effect(capillary):
    reply = capillary.post(
        CUSTOMERS, load("capillary", "2_register_mobile_app_account.json"), format="json"
    ).json()

    assert reply["sideEffects"] == [
        {"entityType": "USER", "rawAwardedPoints": 75.0, "awardedPoints": 75, "type": "points"}
    ]
    customer = Customer.objects.get(pk=reply["createdId"])
    enrollment = Enrollment.objects.get(customer=customer)
    expiry = dt.datetime.fromisoformat("2025-02-11T16:36:17+05:30")
    assert enrollment.tier_expires_at == expiry
    assert [(lot.points, lot.expires_at) for lot in enrollment.lots.all()] == [(75, expiry)]
    assert customer.registered_store.code == "bukl.till"
    assert customer.extended_fields == {"gender": "Male", "city": "Bangalore"}
    assert customer.phone == "+919804542631"
    account = SourceAccount.objects.get(customer=customer)
    assert (account.source, account.account_id) == ("MOBILE_APP", "testmobilepush1")
    assert account.custom_fields == {"employee": "true", "dateofbirth": "22-10-2000"}


def test_welcome_coupons_are_documented_side_effects(capillary, org):
    series = CouponSeries.objects.create(
        organization=org, description="Welcome Offer - 10% flat discount", valid_days=30
    )
    program = org.programs.get(pk=469)
    program.welcome_coupon_series = series
    program.save()

    reply = capillary.post(
        CUSTOMERS, load("capillary", "1_register_instore_mobile_email.json"), format="json"
    ).json()

    [coupon] = reply["sideEffects"]
    assert same_shape(coupon, documented("coupon")) == []
    assert (coupon["description"], coupon["discountCode"]) == (series.description, "NO_VALUE")
    assert coupon["couponCode"] == coupon["trimmedCouponCode"]


def test_status_label_and_card_identifier(capillary, org):
    reply = capillary.post(
        CUSTOMERS, load("capillary", "6_register_status_label.json"), format="json"
    ).json()

    assert reply["warnings"] == []  # a label was given, so the default is not needed
    customer = Customer.objects.get(pk=reply["createdId"])
    assert customer.status_label.name == "active-1"
    card = customer.identifiers.get(type="cardnumber")
    assert (card.value, card.series_id, card.status_label) == ("12345678", 73, "ACTIVE")
    assert card.extended_fields == {"custom_card_name": "Mystays"}
    assert customer.extended_fields == {"acquisition_channel": "Facebook"}


def test_phone_without_country_code_is_read_in_the_default_region(capillary):
    reply = capillary.post(
        CUSTOMERS, load("capillary", "4_register_card_and_extended_fields.json"), format="json"
    ).json()

    customer = Customer.objects.get(pk=reply["createdId"])
    assert customer.phone == "+914567890"
    assert customer.extended_fields["dob"] == "1988-05-10"


def test_impossible_phone_names_the_field(capillary):
    body = load("capillary", "1_register_instore_mobile_email.json")
    body["profiles"][0]["identifiers"][0]["value"] = "12"

    response = capillary.post(CUSTOMERS, body, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "profiles[0].identifiers[0].value"
    assert error["reason"] == "phone_invalid"
    assert not Customer.objects.exists()


def test_long_names_are_truncated_not_refused(capillary):
    body = load("capillary", "3_register_line_account.json")
    body["profiles"][0]["firstName"] = "M" * 150

    reply = capillary.post(CUSTOMERS, body, format="json").json()

    assert Customer.objects.get(pk=reply["createdId"]).first_name == "M" * 100


def test_an_identifier_of_another_source_adds_a_source_account(capillary):
    first = capillary.post(
        CUSTOMERS, load("capillary", "1_register_instore_mobile_email.json"), format="json"
    ).json()
    body = load("capillary", "3_register_line_account.json")
    body["profiles"][0]["identifiers"][0]["value"] = "capillary1.1@example.com"

    second = capillary.post(CUSTOMERS, body, format="json").json()

    assert second["createdId"] == first["createdId"]
    assert second["warnings"][0]["code"] == 8108
    customer = Customer.objects.get()
    assert sorted(customer.source_accounts.values_list("source", flat=True)) == ["INSTORE", "LINE"]


def test_invalid_source_is_error_3217(capillary):
    body = load("capillary", "5_register_external_id_only.json")
    body["profiles"][0]["source"] = "MYSPACE"

    response = capillary.post(CUSTOMERS, body, format="json")

    assert response.status_code == 400
    assert response.json()["warnings"] == []
    [error] = response.json()["errors"]
    assert (error["status"], error["code"], error["field"]) == (
        False,
        3217,
        "profiles[0].source",
    )


def test_the_same_customer_in_the_same_source_is_error_8006(capillary):
    body = load("capillary", "5_register_external_id_only.json")
    assert capillary.post(CUSTOMERS, body, format="json").status_code == 200

    response = capillary.post(CUSTOMERS, body, format="json")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == 8006
    assert Customer.objects.count() == 1


def test_unknown_extended_field_is_refused_with_its_path(capillary):
    body = load("capillary", "3_register_line_account.json")
    body["extendedFields"] = {"shoe_size": "42"}

    response = capillary.post(CUSTOMERS, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "extendedFields.shoe_size"


def test_referral_code_and_loyalty_type(capillary, org):
    referrer = CustomerFactory(organization=org)
    body = load("capillary", "5_register_external_id_only.json")
    body["referralCode"] = referrer.referral_code
    body["loyaltyInfo"] = {"loyaltyType": "non_loyalty"}

    reply = capillary.post(CUSTOMERS, body, format="json").json()

    customer = Customer.objects.get(pk=reply["createdId"])
    assert customer.referred_by == referrer
    assert customer.loyalty_type == LoyaltyType.NON_LOYALTY


def test_user_context_headers_are_recorded_with_the_change(capillary):
    reply = capillary.post(
        CUSTOMERS,
        load("capillary", "5_register_external_id_only.json"),
        format="json",
        HTTP_USER_CONTEXT_ENTITY_TYPE="TILL",
        HTTP_USER_CONTEXT_ENTITY_ID="75",
        HTTP_USER_CONTEXT_ENTITY_SOURCE="INSTORE",
        HTTP_USER_CONTEXT_ENTITY_SOURCE_ID="bukl.till",
    ).json()

    [event] = AuditEvent.objects.filter(customer_id=reply["createdId"])
    assert event.action == "created"
    assert event.actor_context == {
        "entity_type": "TILL",
        "entity_id": "75",
        "entity_source": "INSTORE",
        "entity_source_id": "bukl.till",
    }


# --- update --------------------------------------------------------------------------------


LINE = {"source": "LINE", "accountId": "2001914141242"}


def test_update_changes_profile_channels_and_fields(capillary, registered):
    body = {
        "profiles": [
            {
                "Firstname": "Samuel",
                "Lastname": "Clemens",
                "commChannels": [
                    {
                        "type": "mobilePush",
                        "value": "device-1",
                        "primary": True,
                        "verified": True,
                        "meta": {"lastViewedDate": "2019-10-10T22:04:38+05:30"},
                    }
                ],
                "fields": {"city": "Hannibal"},
            }
        ],
        "extendedFields": {"gender": "Male"},
    }

    response = capillary.put(
        f"{CUSTOMERS}/{registered.pk}?source=LINE&accountId=2001914141242", body, format="json"
    )

    assert response.status_code == 200, response.json()
    registered.refresh_from_db()
    assert (registered.first_name, registered.last_name) == ("Samuel", "Clemens")
    assert registered.custom_fields["city"] == "Hannibal"
    assert registered.extended_fields == {"gender": "Male"}
    push = registered.channels.get(type="mobilePush")
    assert push.last_viewed_at.isoformat() == "2019-10-10T16:34:38+00:00"


@pytest.mark.parametrize(
    ("when", "stored"),
    [
        # ISO 8601 allows offsets up to ±23:59; PostgreSQL's own limit is ±15:59.
        ("2019-10-10T22:04:38-17:10", "2019-10-11T15:14:38+00:00"),
        ("2024-02-30T10:00:00+05:30", None),
        ("0001-01-01T00:30:00+01:00", None),
    ],
)
def test_channel_view_dates_are_kept_in_utc_or_refused(capillary, registered, when, stored):
    channel = {"type": "mobilePush", "value": "device-1", "meta": {"lastViewedDate": when}}
    body = {"profiles": [{"commChannels": [channel]}]}

    response = capillary.put(
        f"{CUSTOMERS}/{registered.pk}?source=LINE&accountId=2001914141242", body, format="json"
    )

    if stored is None:
        assert response.status_code == 400
        field = response.json()["errors"][0]["field"]
        assert field == "profiles[0].commChannels[0].meta.lastViewedDate"
        assert not registered.channels.filter(type="mobilePush").exists()
    else:
        assert response.status_code == 200, response.json()
        push = registered.channels.get(type="mobilePush")
        assert push.last_viewed_at.isoformat() == stored


def test_update_by_query_parameter(capillary, registered):
    response = capillary.put(
        f"{CUSTOMERS}?customerId={registered.pk}&source=LINE&accountId=2001914141242",
        {"profiles": [{"firstName": "Sam"}]},
        format="json",
    )

    assert response.status_code == 200
    registered.refresh_from_db()
    assert registered.first_name == "Sam"


@pytest.mark.parametrize(
    ("query", "field"),
    [("", "source"), ("?source=LINE", "accountId")],
)
def test_update_needs_the_source_and_account(capillary, registered, query, field):
    response = capillary.put(
        f"{CUSTOMERS}/{registered.pk}{query}", {"profiles": [{"firstName": "X"}]}, format="json"
    )

    assert response.status_code in (400, 404)
    assert response.json()["errors"][0]["field"] == field
    registered.refresh_from_db()
    assert registered.first_name == "Mark"


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"identifiers": [{"type": "email", "value": "new@example.com"}]}, "identifiers"),
        ({"source": "INSTORE"}, "source"),
    ],
)
def test_identifiers_and_source_cannot_change(capillary, registered, profile, field):
    response = capillary.put(
        f"{CUSTOMERS}/{registered.pk}?source=LINE&accountId=2001914141242",
        {"profiles": [profile]},
        format="json",
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == f"profiles[0].{field}"
    assert "cannot be changed" in error["message"]


def test_loyalty_type_only_goes_from_non_loyalty_to_loyalty(capillary, org):
    customer = CustomerFactory(organization=org, loyalty_type=LoyaltyType.NON_LOYALTY)
    customer.source_accounts.create(source="INSTORE")
    url = f"{CUSTOMERS}/{customer.pk}?source=INSTORE"

    upgrade = capillary.put(url, {"loyaltyType": "loyalty"}, format="json")
    downgrade = capillary.put(url, {"loyaltyType": "non_loyalty"}, format="json")

    assert upgrade.status_code == 200
    assert downgrade.status_code == 422
    assert downgrade.json()["errors"][0]["field"] == "loyaltyInfo.loyaltyType"
    customer.refresh_from_db()
    assert customer.loyalty_type == LoyaltyType.LOYALTY


def test_update_enrols_once(capillary, registered):
    url = f"{CUSTOMERS}/{registered.pk}?source=LINE&accountId=2001914141242"
    body = {"loyaltyProgramEnrollments": [{"programId": 469, "tierNumber": 1, "loyaltyPoints": 20}]}

    first = capillary.put(url, body, format="json")
    again = capillary.put(url, body, format="json")

    assert first.status_code == 200
    assert first.json()["sideEffects"][0]["awardedPoints"] == 20
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "loyaltyProgramEnrollments[0].programId"
    assert Enrollment.objects.get(customer=registered).points_balance == 20


def test_use_async_runs_loyalty_in_the_background(
    capillary, registered, django_capture_on_commit_callbacks
):
    body = {"loyaltyProgramEnrollments": [{"programId": 469, "loyaltyPoints": 30}]}

    with django_capture_on_commit_callbacks() as jobs:
        response = capillary.put(
            f"{CUSTOMERS}/{registered.pk}?source=LINE&accountId=2001914141242&use_async=true",
            body,
            format="json",
        )

    assert response.status_code == 200
    assert response.json()["sideEffects"] == []
    assert not Enrollment.objects.filter(customer=registered).exists()
    for job in jobs:
        job()
    assert Enrollment.objects.get(customer=registered).points_balance == 30


# --- authentication and tenancy ---------------------------------------------------------------


def test_bearer_key_works_too(org, api_key, capillary):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    body = load("capillary", "5_register_external_id_only.json")
    assert client.post(CUSTOMERS, body, format="json").status_code == 200


@pytest.mark.parametrize("authorization", [None, basic("wrong"), "Bearer wrong"])
def test_missing_or_wrong_key_is_401_in_capillarys_envelope(db, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.post(CUSTOMERS, {"profiles": []}, format="json")

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == 401
    assert response.json()["errors"][0]["status"] is False


def test_another_organizations_customer_is_404(capillary, other_org):
    stranger = CustomerFactory(organization=other_org)
    stranger.source_accounts.create(source="INSTORE")

    assert capillary.get(f"{CUSTOMERS}/{stranger.pk}").status_code == 404
    response = capillary.put(
        f"{CUSTOMERS}/{stranger.pk}?source=INSTORE", {"profiles": []}, format="json"
    )
    assert response.status_code == 404


def test_another_organizations_programme_is_refused(capillary, other_org):
    other_key = api_key_create(organization=other_org, name="Other")[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(other_key))

    response = client.post(
        CUSTOMERS, load("capillary", "1_register_instore_mobile_email.json"), format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "loyaltyProgramEnrollments[0].programId"
    assert not Customer.objects.filter(organization=other_org).exists()
