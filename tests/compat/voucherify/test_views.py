import datetime as dt

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from rest_framework.test import APIClient

from customers.models import Customer
from loyalty.models import Coupon, CouponSeries
from tests.compat.fixtures import load, same_shape
from tests.compat.voucherify import schema as voucherify_schema
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import EnrollmentFactory, ProgramFactory, TierFactory

CUSTOMERS = "/compat/voucherify/v1/customers"
CREATE = load("voucherify", "create_customer.json")
REPLY = load("voucherify", "reply_customer.json")

formats = FormatChecker(formats=())


@formats.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


@formats.checks("date", raises=ValueError)
def _date(value) -> bool:
    return not isinstance(value, str) or bool(dt.date.fromisoformat(value))


def deserializable(body: dict, schema: dict) -> list[str]:
    """What a client generated from Voucherify's OpenAPI description would reject."""
    validator = Draft202012Validator(schema, format_checker=formats)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]


@pytest.fixture
def voucherify(org, api_key):
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=org.slug, HTTP_X_APP_TOKEN=api_key[1])
    return client


def test_the_documented_request_creates_the_documented_customer(voucherify):
    response = voucherify.post(CUSTOMERS, CREATE, format="json")

    assert response.status_code == 200, response.json()
    reply = response.json()
    assert deserializable(reply, voucherify_schema.CUSTOMER) == []
    assert same_shape(reply, REPLY) == [".updated_at: not documented"]  # the example omits it
    customer = Customer.objects.get()
    assert reply["id"] == customer.public_id
    assert reply["id"].startswith("cust_")
    documented = {k: REPLY[k] for k in ("source_id", "name", "description", "email", "birthdate")}
    assert {k: reply[k] for k in documented} == documented
    assert reply["address"] == REPLY["address"]
    assert reply["metadata"] == REPLY["metadata"]
    assert reply["phone"] == "+19332223333"  # the documented +1 933 222 3333, in E.164
    assert (reply["summary"], reply["loyalty"], reply["referrals"]) == (
        REPLY["summary"],
        REPLY["loyalty"],
        REPLY["referrals"],
    )
    assert reply["created_at"].endswith("Z")
    assert (customer.external_id, customer.city, customer.custom_fields) == (
        "source_123",
        "New York",
        {"lang": "en", "test": True},
    )


def test_posting_the_same_source_id_again_updates(voucherify):
    first = voucherify.post(CUSTOMERS, CREATE, format="json").json()

    again = voucherify.post(
        CUSTOMERS, {"source_id": "source_123", "name": "Robert Smith"}, format="json"
    )

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["name"] == "Robert Smith"
    assert again.json()["email"] == "bob.smith@email.com"  # not sent, not changed
    assert Customer.objects.count() == 1


def test_an_id_wins_over_a_source_id(voucherify, org):
    customer = CustomerFactory(organization=org, external_id="kept")

    response = voucherify.post(
        CUSTOMERS,
        {"id": customer.public_id, "source_id": "ignored", "description": "VIP"},
        format="json",
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.external_id, customer.description) == ("kept", "VIP")


def test_an_unknown_id_is_404(voucherify):
    response = voucherify.post(CUSTOMERS, {"id": "cust_nope", "name": "X"}, format="json")

    assert response.status_code == 404
    assert deserializable(response.json(), voucherify_schema.ERROR) == []
    assert not Customer.objects.exists()


def test_get_put_delete_by_id_or_source_id(voucherify):
    created = voucherify.post(CUSTOMERS, CREATE, format="json").json()

    by_id = voucherify.get(f"{CUSTOMERS}/{created['id']}")
    by_source = voucherify.get(f"{CUSTOMERS}/source_123")
    updated = voucherify.put(
        f"{CUSTOMERS}/source_123", {"address": {"city": "Boston"}}, format="json"
    )

    assert by_id.json() == by_source.json()
    assert updated.status_code == 200
    assert updated.json()["address"]["city"] == "Boston"
    assert updated.json()["address"]["line_1"] == "123 Main St."
    assert deserializable(updated.json(), voucherify_schema.CUSTOMER) == []
    assert voucherify.delete(f"{CUSTOMERS}/{created['id']}").status_code == 204
    assert voucherify.get(f"{CUSTOMERS}/source_123").status_code == 404


def test_a_customer_with_loyalty_and_referrals_is_deserializable(voucherify, org):
    program = ProgramFactory(organization=org, name="Club")
    tier = TierFactory(program=program, number=1, name="Gold")
    referrer = CustomerFactory(organization=org)
    customer = CustomerFactory(organization=org, referred_by=referrer, phone=None, email=None)
    EnrollmentFactory(customer=customer, program=program, tier=tier, points_balance=40)
    series = CouponSeries.objects.create(organization=org, description="10% off")
    Coupon.objects.create(
        organization=org, series=series, customer=customer, redeemed_at=dt.datetime.now(dt.UTC)
    )

    reply = voucherify.get(f"{CUSTOMERS}/{customer.public_id}").json()

    assert deserializable(reply, voucherify_schema.CUSTOMER) == []
    assert reply["loyalty"]["points"] == 40
    assert reply["loyalty"]["campaigns"] == {
        "Club": {"points": 40, "loyalty_tier": "Gold", "referred_customers": 0}
    }
    assert reply["referrals"]["total"] == 1
    assert reply["referrals"]["campaigns"][0]["referrer_id"] == referrer.public_id
    assert reply["summary"]["redemptions"]["total_redeemed"] == 1
    assert "email" not in reply
    assert "phone" not in reply
    referrer_reply = voucherify.get(f"{CUSTOMERS}/{referrer.public_id}").json()
    assert referrer_reply["loyalty"]["referred_customers"] == 1


def test_list_pages_filters_and_is_deserializable(voucherify, org):
    for i in range(5):
        CustomerFactory(organization=org, city="Paris" if i % 2 else "Lyon")

    first = voucherify.get(CUSTOMERS, {"limit": 2, "order": "created_at"}).json()
    second = voucherify.get(CUSTOMERS, {"limit": 2, "page": 2, "order": "created_at"}).json()
    paris = voucherify.get(CUSTOMERS, {"city": "paris"}).json()

    assert deserializable(first, voucherify_schema.CUSTOMERS_LIST) == []
    assert (first["total"], first["has_more"], len(first["customers"])) == (5, True, 2)
    assert not {c["id"] for c in first["customers"]} & {c["id"] for c in second["customers"]}
    assert paris["total"] == 2


def test_list_time_filters_take_any_iso_offset(voucherify, org):
    customer = CustomerFactory(organization=org)
    # ISO 8601 allows offsets up to ±23:59; PostgreSQL's own limit is ±15:59.
    far_west = (customer.created_at - dt.timedelta(hours=1)).astimezone(
        dt.timezone(-dt.timedelta(hours=17, minutes=10))
    )

    after = voucherify.get(CUSTOMERS, {"created_at[after]": far_west.isoformat()}).json()
    before = voucherify.get(CUSTOMERS, {"created_at[before]": far_west.isoformat()}).json()

    assert [c["id"] for c in after["customers"]] == [customer.public_id]
    assert before["total"] == 0


def test_list_query_count_does_not_grow_with_the_page(
    voucherify, org, django_assert_max_num_queries
):
    program = ProgramFactory(organization=org)
    for customer in CustomerFactory.create_batch(30, organization=org):
        EnrollmentFactory(customer=customer, program=program)

    voucherify.get(CUSTOMERS)  # the key's last use is recorded once a minute
    # key, count, page ids, the page's customers and their enrolments
    with django_assert_max_num_queries(5):
        reply = voucherify.get(CUSTOMERS, {"limit": 30}).json()

    assert len(reply["customers"]) == 30


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"page": "x"}, "page"),
        ({"order": "email"}, "order"),
        ({"created_at[after]": "2024-02-30"}, "created_at[after]"),
        ({"updated_at[before]": "0001-01-01T00:30:00+01:00"}, "updated_at[before]"),
    ],
)
def test_bad_list_parameters_name_the_field(voucherify, params, field):
    response = voucherify.get(CUSTOMERS, params)

    assert response.status_code == 400
    assert response.json()["details"].startswith(f"{field}:")
    assert deserializable(response.json(), voucherify_schema.ERROR) == []


def test_bad_input_is_400_naming_the_field(voucherify):
    response = voucherify.post(CUSTOMERS, {**CREATE, "phone": "12"}, format="json")

    assert response.status_code == 400
    assert response.json()["details"].startswith("phone:")
    assert not Customer.objects.exists()


def test_taken_email_is_409(voucherify, org):
    CustomerFactory(organization=org, email="bob.smith@email.com")

    response = voucherify.post(CUSTOMERS, CREATE, format="json")

    assert response.status_code == 409
    assert response.json()["key"] == "email_taken"


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_X_APP_ID": "acme"}, {"HTTP_X_APP_ID": "acme", "HTTP_X_APP_TOKEN": "wrong"}],
)
def test_missing_or_wrong_keys_are_401(org, headers):
    response = APIClient().get(CUSTOMERS, **headers)

    assert response.status_code == 401
    assert response.json()["key"] == "unauthorized"
    assert deserializable(response.json(), voucherify_schema.ERROR) == []


def test_the_app_id_must_be_the_keys_organization(org, other_org, api_key):
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=other_org.slug, HTTP_X_APP_TOKEN=api_key[1])
    assert client.get(CUSTOMERS).status_code == 401


def test_another_organizations_customers_are_invisible(voucherify, other_org):
    stranger = CustomerFactory(organization=other_org, external_id="source_123")

    assert voucherify.get(f"{CUSTOMERS}/{stranger.public_id}").status_code == 404
    assert voucherify.get(f"{CUSTOMERS}/source_123").status_code == 404
    assert voucherify.delete(f"{CUSTOMERS}/{stranger.public_id}").status_code == 404
    assert voucherify.get(CUSTOMERS).json()["total"] == 0
    # the same source_id in another organization is another customer
    assert voucherify.post(CUSTOMERS, CREATE, format="json").status_code == 200
    assert Customer.objects.filter(external_id="source_123").count() == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"segment_id": "seg_DZvSsr7yDA8sjrTYircSuqb1"}, "segment_id"),
        ({"city": "Paris", "phone": "+19332223333"}, "phone"),
        ({"metadata[lang]": "en"}, "metadata[lang]"),
    ],
)
def test_a_list_filter_the_door_does_not_support_is_400_naming_it(voucherify, org, params, field):
    CustomerFactory(organization=org, city="Paris")

    response = voucherify.get(CUSTOMERS, params)

    assert response.status_code == 400
    body = response.json()
    assert (body["key"], body["details"].split(":")[0]) == ("invalid", field)
    assert deserializable(body, voucherify_schema.ERROR) == []


@pytest.mark.parametrize(
    "query",
    ["email=plus2%2Btag@example.com", "email=plus2+tag@example.com"],
    ids=["encoded", "raw"],
)
def test_the_email_filter_reads_a_plus_encoded_or_not(voucherify, org, query):
    customer = CustomerFactory(organization=org, email="plus2+tag@example.com")

    reply = voucherify.get(f"{CUSTOMERS}?{query}").json()

    assert [c["id"] for c in reply["customers"]] == [customer.public_id]


def test_two_customers_without_source_id_cannot_share_an_email(voucherify, org):
    first = voucherify.post(CUSTOMERS, {"name": "Ann", "email": "ann@example.com"}, format="json")

    second = voucherify.post(
        CUSTOMERS, {"name": "Ann B", "email": "Ann@Example.com"}, format="json"
    )

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json() == {
        "code": 409,
        "key": "email_taken",
        "message": "Another customer already has this email.",
        "details": "email: Another customer already has this email.",
        "request_id": second.json()["request_id"],
    }
    assert second.json()["request_id"]
    assert deserializable(second.json(), voucherify_schema.ERROR) == []
    assert Customer.objects.count() == 1


def test_null_leaves_a_field_unchanged_and_an_empty_string_clears_it(voucherify):
    created = voucherify.post(CUSTOMERS, CREATE, format="json").json()
    # What Voucherify's Python client sends for an update built with from_dict({"name": …}).
    sent = {
        "name": "Robert Smith",
        "description": None,
        "email": None,
        "phone": None,
        "birthday": None,
        "birthdate": None,
        "address": {"city": None, "line_1": "1 New St."},
        "metadata": None,
    }

    updated = voucherify.put(f"{CUSTOMERS}/{created['id']}", sent, format="json").json()
    cleared = voucherify.put(
        f"{CUSTOMERS}/{created['id']}", {"description": "", "address": None}, format="json"
    ).json()

    assert updated["name"] == "Robert Smith"
    kept = ("description", "email", "phone", "birthdate", "metadata")
    assert {k: updated[k] for k in kept} == {k: created[k] for k in kept}
    assert updated["address"] == {**created["address"], "line_1": "1 New St."}
    assert "description" not in cleared
    assert cleared["address"] is None  # the one property Voucherify documents as nullable


def test_a_phone_with_letters_is_400_naming_the_field(voucherify):
    response = voucherify.post(CUSTOMERS, {**CREATE, "phone": "98765abcde"}, format="json")

    assert response.status_code == 400
    assert (response.json()["key"], response.json()["details"][:6]) == ("phone_invalid", "phone:")
    assert not Customer.objects.exists()


def test_a_customer_created_at_the_native_api_is_read_and_updated_here(voucherify, api, org):
    store = StoreFactory(organization=org, code="north.till")
    created = api.post(
        "/api/v1/customers/",
        {
            "first_name": "Nia",
            "email": "nia@example.com",
            "external_id": "crm-55",
            "store": store.code,
            "source_accounts": [
                {"source": "INSTORE", "identifiers": [{"type": "cardnumber", "value": "C-1"}]}
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    public_id = created.json()["customer"]["id"]

    by_id = voucherify.get(f"{CUSTOMERS}/{public_id}")
    by_source_id = voucherify.get(f"{CUSTOMERS}/crm-55")
    listed = voucherify.get(CUSTOMERS, {"email": "nia@example.com"}).json()
    updated = voucherify.put(f"{CUSTOMERS}/crm-55", {"name": "Nia Okafor"}, format="json")
    upserted = voucherify.post(
        CUSTOMERS, {"source_id": "crm-55", "description": "VIP"}, format="json"
    )

    assert by_id.status_code == by_source_id.status_code == 200
    assert by_id.json()["email"] == "nia@example.com"
    assert [c["id"] for c in listed["customers"]] == [public_id]
    assert (updated.status_code, updated.json()["name"]) == (200, "Nia Okafor")
    assert (upserted.json()["id"], upserted.json()["description"]) == (public_id, "VIP")
    customer = Customer.objects.get()
    assert customer.registered_store == store


def test_a_source_id_with_a_plus_names_its_customer_in_the_path(voucherify, org):
    customer = CustomerFactory(organization=org, external_id="ana+1@example.com")

    response = voucherify.get(f"{CUSTOMERS}/ana+1@example.com")

    assert response.json()["id"] == customer.public_id
