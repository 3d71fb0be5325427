"""The customer endpoints of /api/v1/."""

import datetime as dt

import pytest
from django.utils import timezone

from crm.actors import SYSTEM
from crm.api.pagination import CursorPage
from customers.models import Customer, Identifier
from loyalty.services.stamps import stamps_add
from tests.crm.factories import StoreFactory
from tests.customers.factories import (
    ChannelFactory,
    CustomerFactory,
    IdentifierFactory,
    SourceAccountFactory,
)
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    ProgramFactory,
    RewardFactory,
    StampCardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db
CUSTOMERS = "/api/v1/customers/"


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_registration_with_everything_nested(api, org):
    program = ProgramFactory(organization=org, welcome_points=10)
    TierFactory(program=program, number=1)
    TierFactory(program=program, number=2, name="Gold")
    stamp_card = StampCardFactory(organization=org, initial_stamps=1)
    referrer = CustomerFactory(organization=org)
    StoreFactory(organization=org, code="bukl.till")

    response = api.post(
        CUSTOMERS,
        {
            "first_name": "Tom",
            "last_name": "Sawyer",
            "email": "Tom@Example.com",
            "phone": "4567890",
            "birthday": "1988-05-10",
            "address": {"city": "Tokyo", "country": "Japan"},
            "store": "bukl.till",
            "custom_fields": {"kanjifirstname": "トム"},
            "extended_fields": {"gender": "male", "dob": "1988/05/10"},
            "referral_code": referrer.referral_code,
            "source_accounts": [
                {
                    "source": "INSTORE",
                    "identifiers": [
                        {
                            "type": "cardnumber",
                            "value": "12345678",
                            "series_id": 73,
                            "status_label": "ACTIVE",
                            "extended_fields": {"custom_card_name": "Mystays"},
                        }
                    ],
                },
                {
                    "source": "LINE",
                    "account_id": "2001914141242",
                    "identifiers": [{"type": "line", "value": "Ud7b7ec"}],
                },
            ],
            "channels": [
                {
                    "type": "email",
                    "value": "tom@example.com",
                    "primary": True,
                    "verified": True,
                    "meta": {"residence": True},
                }
            ],
            "enrollments": [
                {
                    "program_id": program.pk,
                    "tier_number": 2,
                    "points": 75,
                    "tier_expires_at": "2025-02-11T16:36:17+05:30",
                }
            ],
            "stamp_card_ids": [stamp_card.pk],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    customer = body["customer"]
    assert body["created"] is True
    assert customer["email"] == "tom@example.com"
    assert customer["phone"] == "+914567890"
    assert customer["address"]["city"] == "Tokyo"
    assert customer["store"] == "bukl.till"
    assert customer["extended_fields"] == {"gender": "Male", "dob": "1988-05-10"}
    assert customer["referred_by"] == referrer.public_id
    assert [a["source"] for a in customer["source_accounts"]] == ["INSTORE", "LINE"]
    assert customer["source_accounts"][0]["identifiers"][0]["series_id"] == 73
    assert customer["channels"][0]["meta"]["residence"] is True
    enrollment = customer["enrollments"][0]
    assert (enrollment["tier"]["name"], enrollment["points_balance"]) == ("Gold", 85)
    card = customer["cards"][0]
    assert card["stamps"] == 1
    assert card["apple_wallet_url"].startswith("http")
    assert [w["code"] for w in body["warnings"]] == ["default_status_label_not_set"]
    assert [e["type"] for e in body["side_effects"]] == ["points", "points", "stamps"]


def test_registration_attaching_to_an_existing_customer_is_200(api, org):
    body = {
        "source_accounts": [
            {"source": "INSTORE", "identifiers": [{"type": "email", "value": "a@example.com"}]}
        ]
    }
    first = api.post(CUSTOMERS, body, format="json").json()["customer"]["id"]
    body["source_accounts"][0]["source"] = "WECHAT"
    response = api.post(CUSTOMERS, body, format="json")
    assert response.status_code == 200
    assert response.json()["customer"]["id"] == first
    assert response.json()["created"] is False


def test_retrieve_shows_the_whole_customer(api, org):
    card = CustomerCardFactory(customer__organization=org)
    RewardFactory(stamp_card=card.stamp_card, stamp_cost=2, name="Coffee")
    stamps_add(organization=org, card=card, stamps=3, actor=SYSTEM)
    customer = card.customer
    IdentifierFactory(source_account__customer=customer, value="ext-1")
    ChannelFactory(customer=customer)
    EnrollmentFactory(customer=customer)

    body = api.get(f"{CUSTOMERS}{customer.public_id}/").json()

    assert body["id"] == customer.public_id
    assert body["source_accounts"][0]["identifiers"][0]["value"] == "ext-1"
    assert len(body["channels"]) == 1
    assert len(body["enrollments"]) == 1
    [card_body] = body["cards"]
    assert card_body["rewards_available"][0]["name"] == "Coffee"
    assert card_body["google_wallet_url"].endswith(f"/cards/{card.link_token}/google/")


def test_partial_update_changes_only_what_is_sent(api, org):
    customer = CustomerFactory(organization=org, first_name="Ann", last_name="Lee")
    response = api.patch(
        f"{CUSTOMERS}{customer.public_id}/",
        {"first_name": "Anne", "address": {"city": "Pune"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.city) == ("Anne", "Lee", "Pune")


def test_delete(api, org):
    customer = CustomerFactory(organization=org)
    assert api.delete(f"{CUSTOMERS}{customer.public_id}/").status_code == 204
    assert not Customer.objects.exists()


# --- list, search, filters ---------------------------------------------------------------------


def test_search_finds_by_name_email_phone_identifier_and_card_code(api, org):
    mark = CustomerFactory(
        organization=org,
        first_name="Mark",
        last_name="Twain",
        email="mark.twain@example.com",
        phone="+919804542631",
    )
    IdentifierFactory(source_account__customer=mark, value="cuid_919804542631")
    card = CustomerCardFactory(customer=mark)
    CustomerFactory.create_batch(3, organization=org)
    for term in [
        "twain",
        "Mark Twain",
        "twain@exa",
        "98045",
        "98045-42631",
        "cuid_9198",
        card.code[2:9].lower(),
    ]:
        assert ids(api.get(CUSTOMERS, {"search": term})) == [mark.public_id], term
    assert ids(api.get(CUSTOMERS, {"search": "nobody-matches"})) == []


def test_search_reads_a_phone_number_in_the_organizations_region(api, org):
    customer = CustomerFactory(organization=org, phone="+919873567294")
    CustomerFactory(organization=org, phone="+919873567295")
    for term in ["09873567294", "098735 67294", "0091 9873567294", "+91 98735-67294"]:
        assert ids(api.get(CUSTOMERS, {"search": term})) == [customer.public_id], term


def test_search_finds_an_external_id_exactly(api, org):
    customer = CustomerFactory(organization=org, external_id="POS 777")
    CustomerFactory(organization=org, external_id="POS 7770")
    assert ids(api.get(CUSTOMERS, {"search": "POS 777"})) == [customer.public_id]


def test_exact_lookups(api, org, other_org):
    ana = CustomerFactory(
        organization=org, external_id="POS-777", email="ana@example.com", phone="+919873567294"
    )
    IdentifierFactory(source_account__customer=ana, type="cardnumber", value="4000 12")
    IdentifierFactory(source_account__customer=ana, type="mobile", value="+919873567296")
    CustomerFactory(organization=org, external_id="POS-7770", email="ana@example.co")
    CustomerFactory(organization=other_org, external_id="POS-777", email="ana@example.com")
    for query in [
        {"external_id": "POS-777"},
        {"external_id": " POS-777 "},
        {"email": "Ana@Example.COM"},
        {"phone": "09873567294"},
        {"phone": "+919873567294"},
        {"identifier": "cardnumber:4000 12"},
        {"identifier": "mobile:098735 67296"},
        {"external_id": "POS-777", "email": "ana@example.com", "phone": "98735 67294"},
    ]:
        assert ids(api.get(CUSTOMERS, query)) == [ana.public_id], query
    for query in [
        {"external_id": "pos-777"},
        {"email": "ana@example.net"},
        {"external_id": "POS-777", "email": "ana@example.co"},
    ]:
        assert ids(api.get(CUSTOMERS, query)) == [], query


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"identifier": "POS-777"}, "invalid"),
        ({"identifier": ""}, "blank"),
        ({"identifier": " cuid:1"}, "identifier_type_invalid"),
        ({"identifier": "cuid: "}, "required"),
        ({"identifier": "till:POS-777"}, "identifier_type_invalid"),
        ({"identifier": "mobile:call me"}, "phone_invalid"),
        ({"email": "ana"}, "email_invalid"),
        ({"phone": "12"}, "phone_invalid"),
        ({"external_id": "x" * 256}, "too_long"),
    ],
)
def test_a_malformed_lookup_is_refused_naming_its_parameter(api, org, query, code):
    response = api.get(CUSTOMERS, query)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == (*query, code)


def test_exact_lookups_cost_no_query_more(api, org, django_assert_max_num_queries):
    customer = CustomerFactory(organization=org, external_id="POS-777", phone="+919873567294")
    IdentifierFactory(source_account__customer=customer, type="cardnumber", value="400012")
    api.get(CUSTOMERS)  # the first call of a minute also records the key's use
    with django_assert_max_num_queries(2) as plain:
        api.get(CUSTOMERS)
    query = {"external_id": "POS-777", "phone": "09873567294", "identifier": "cardnumber:400012"}
    with django_assert_max_num_queries(len(plain.captured_queries)):
        assert ids(api.get(CUSTOMERS, query)) == [customer.public_id]


def test_filters(api, org):
    gold_program = ProgramFactory(organization=org)
    gold = TierFactory(program=gold_program, number=2)
    store = StoreFactory(organization=org, code="s1.till")
    a = CustomerFactory(organization=org, status="suspended", registered_store=store)
    b = CustomerFactory(organization=org, loyalty_type="non_loyalty")
    SourceAccountFactory(customer=b, source="LINE")
    EnrollmentFactory(customer=a, program=gold_program, tier=gold)
    Customer.objects.filter(pk=b.pk).update(created_at=timezone.now() - dt.timedelta(days=10))

    assert ids(api.get(CUSTOMERS, {"status": "suspended"})) == [a.public_id]
    assert ids(api.get(CUSTOMERS, {"loyalty_type": "non_loyalty"})) == [b.public_id]
    assert ids(api.get(CUSTOMERS, {"source": "LINE"})) == [b.public_id]
    assert ids(api.get(CUSTOMERS, {"store": "s1.till"})) == [a.public_id]
    assert ids(api.get(CUSTOMERS, {"program": gold_program.pk})) == [a.public_id]
    assert ids(api.get(CUSTOMERS, {"tier": 2})) == [a.public_id]
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids(api.get(CUSTOMERS, {"created_after": since})) == [a.public_id]
    assert ids(api.get(CUSTOMERS, {"created_before": since})) == [b.public_id]
    response = api.get(CUSTOMERS, {"status": "sleeping"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "status"


def test_time_filters_take_any_iso_offset(api, org):
    customer = CustomerFactory(organization=org)
    # ISO 8601 allows offsets up to ±23:59; PostgreSQL's own limit is ±15:59.
    far_west = (customer.created_at - dt.timedelta(hours=1)).astimezone(
        dt.timezone(-dt.timedelta(hours=17, minutes=10))
    )
    assert ids(api.get(CUSTOMERS, {"created_after": far_west.isoformat()})) == [customer.public_id]
    assert ids(api.get(CUSTOMERS, {"updated_before": far_west.isoformat()})) == []

    response = api.get(CUSTOMERS, {"created_after": "0001-01-01T00:30:00+01:00"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "created_after"


def test_ordering_and_pages(api, org):
    for name in ["Cole", "Adams", "Baker"]:
        CustomerFactory(organization=org, last_name=name)
    by_name = api.get(CUSTOMERS, {"ordering": "last_name"}).json()["results"]
    assert [c["last_name"] for c in by_name] == ["Adams", "Baker", "Cole"]
    first = api.get(CUSTOMERS, {"page_size": 2}).json()
    assert len(first["results"]) == 2
    rest = api.get(first["next"]).json()
    assert len(rest["results"]) == 1
    assert rest["next"] is None


def test_page_size_is_bounded(api, org):
    CustomerFactory.create_batch(3, organization=org)
    assert CursorPage.max_page_size == 200
    assert len(api.get(CUSTOMERS, {"page_size": 200}).json()["results"]) == 3


@pytest.mark.parametrize(
    "page_size",
    ["201", "0", "-1", "null", "", str(2**63), "9" * 5000, "²", "٣", " 7", "7_0", "1.0"],
)
def test_a_page_size_the_schema_refuses_is_refused_naming_it(api, org, page_size):
    response = api.get(CUSTOMERS, {"page_size": page_size})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["page_size"]


# --- batch -------------------------------------------------------------------------------------


def test_batch_upserts_each_item_alone_in_request_order(api, org):
    CustomerFactory(organization=org, email="known@example.com", first_name="Old")
    CustomerFactory(organization=org, external_id="EXT-1", first_name="Same")
    response = api.post(
        f"{CUSTOMERS}batch/",
        {
            "customers": [
                {"email": "new@example.com", "first_name": "New"},
                {"email": "KNOWN@example.com", "first_name": "Renamed"},
                {"email": "not-an-email"},
                {"external_id": "EXT-1", "first_name": "Same"},
                {"source_accounts": [{"source": "MYSPACE"}]},
                {"birthday": "soon"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "created",
        "updated",
        "failed",
        "unchanged",
        "failed",
        "failed",
    ]
    assert results[2]["errors"] == [
        {
            "index": 2,
            "field": "email",
            "code": "email_invalid",
            "message": "'not-an-email' is not an email address.",
        }
    ]
    assert results[4]["errors"][0]["field"] == "source_accounts[0].source"
    assert results[5]["errors"][0] == {
        "index": 5,
        "field": "birthday",
        "code": "invalid",
        "message": results[5]["errors"][0]["message"],
    }
    assert Customer.objects.get(email="known@example.com").first_name == "Renamed"
    assert Customer.objects.count() == 3


def test_registering_nothing_is_refused_saying_what_is_needed(api, org):
    response = api.post(CUSTOMERS, {}, format="json")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == (None, "required")
    assert "a first or last name, an email, a phone" in error["message"]
    assert not Customer.objects.exists()


def test_a_batch_item_with_nothing_fails_alone(api, org):
    response = api.post(
        f"{CUSTOMERS}batch/",
        {"customers": [{}, {"first_name": "Ann"}, {"custom_fields": {"a": 1}}]},
        format="json",
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["failed", "created", "failed"]
    assert [r["errors"][0]["code"] for r in (results[0], results[2])] == ["required"] * 2
    assert list(Customer.objects.values_list("first_name", flat=True)) == ["Ann"]


def test_batch_matches_by_identifier(api, org):
    customer = CustomerFactory(organization=org, email=None)
    IdentifierFactory(source_account__customer=customer, type="cardnumber", value="777")
    response = api.post(
        f"{CUSTOMERS}batch/",
        {
            "customers": [
                {
                    "first_name": "Carded",
                    "source_accounts": [
                        {
                            "source": "INSTORE",
                            "identifiers": [{"type": "cardnumber", "value": "777"}],
                        }
                    ],
                }
            ]
        },
        format="json",
    )
    assert response.json()["results"][0]["id"] == customer.public_id
    customer.refresh_from_db()
    assert customer.first_name == "Carded"


def test_batch_refuses_an_email_whose_phone_is_another_customers(api, org):
    ann = CustomerFactory(
        organization=org, email="ann@example.com", phone="+919804542631", first_name="Ann"
    )
    response = api.post(
        f"{CUSTOMERS}batch/",
        {
            "customers": [
                {"email": "bo@example.com", "phone": "9804542631", "first_name": "Bo"},
                {"email": "ann@example.com", "phone": "9804542631", "first_name": "Annie"},
            ]
        },
        format="json",
    )

    first, second = response.json()["results"]
    assert first["status"] == "failed"
    [error] = first["errors"]
    assert (error["field"], error["code"]) == ("phone", "identifiers_conflict")
    assert "email" in error["message"]
    assert ann.public_id in error["message"]
    assert second["status"] == "updated"
    ann.refresh_from_db()
    assert (ann.email, ann.first_name) == ("ann@example.com", "Annie")
    assert Customer.objects.count() == 1


def test_batch_of_101_is_refused_and_writes_nothing(api):
    items = [{"email": f"c{i}@example.com"} for i in range(101)]
    response = api.post(f"{CUSTOMERS}batch/", {"customers": items}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "customers"
    assert not Customer.objects.exists()
    ok = api.post(f"{CUSTOMERS}batch/", {"customers": items[:100]}, format="json")
    assert [r["status"] for r in ok.json()["results"]] == ["created"] * 100


# --- identifiers and channels ------------------------------------------------------------------


def test_identifiers_are_added_changed_and_removed(api, org):
    customer = CustomerFactory(organization=org)
    url = f"{CUSTOMERS}{customer.public_id}/identifiers/"
    created = api.post(
        url,
        {"source": "WECHAT", "account_id": "wx", "type": "mobile", "value": "8795779625"},
        format="json",
    )
    assert created.status_code == 201, created.content
    identifier = created.json()
    assert identifier["value"] == "+918795779625"
    duplicate = api.post(
        url,
        {"source": "WECHAT", "account_id": "wx", "type": "mobile", "value": "+918795779625"},
        format="json",
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "customer_exists_for_source"
    changed = api.patch(f"{url}{identifier['id']}/", {"value": "9804542631"}, format="json")
    assert changed.json()["value"] == "+919804542631"
    assert [i["id"] for i in api.get(url).json()] == [identifier["id"]]
    assert api.delete(f"{url}{identifier['id']}/").status_code == 204
    assert not Identifier.objects.exists()


def test_channels_are_added_changed_and_removed(api, org):
    customer = CustomerFactory(organization=org)
    url = f"{CUSTOMERS}{customer.public_id}/channels/"
    channel = api.post(
        url, {"type": "email", "value": "A@b.co", "primary": True}, format="json"
    ).json()
    assert (channel["value"], channel["primary"]) == ("a@b.co", True)
    changed = api.patch(
        f"{url}{channel['id']}/", {"subscribed": False, "meta": {"office": True}}, format="json"
    ).json()
    assert (changed["subscribed"], changed["meta"]["office"], changed["primary"]) == (
        False,
        True,
        True,
    )
    assert api.delete(f"{url}{channel['id']}/").status_code == 204
    assert api.get(url).json() == []


def test_a_phone_with_letters_is_a_400_naming_the_field(api, org):
    response = api.post(CUSTOMERS, {"first_name": "Ana", "phone": "98765abcde"}, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("phone", "phone_invalid")
    assert not Customer.objects.exists()


def test_a_mobile_identifier_with_letters_is_refused(api, org):
    response = api.post(
        CUSTOMERS,
        {
            "first_name": "Ana",
            "source_accounts": [
                {"source": "INSTORE", "identifiers": [{"type": "mobile", "value": "98765abcde"}]}
            ],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "source_accounts[0].identifiers[0].value"
