import copy

import pytest
from rest_framework.test import APIClient

from crm.services import api_key_create
from customers.models import Customer
from loyalty.models import Enrollment
from tests.compat.fixtures import load
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgramFactory

STRUCTURE = load("jericommerce", "upsert_structure.json")
# The documented structure gives each value's type; a real call fills them in.
VALUES = {
    "email": "ana@example.com",
    "externalCustomerId": "crm-1001",
    "name": "Ana Pérez",
    "phone": "+1 933 222 3333",
    "payload.email": "ana@example.com",
}


def filled(structure=STRUCTURE, **changes) -> list[dict]:
    items = copy.deepcopy(structure)
    for item in items:
        item["email"] = VALUES["email"]
        payload = item["payload"]
        for name in ("externalCustomerId", "name", "phone"):
            payload[name] = VALUES[name]
        payload["email"] = VALUES["payload.email"]
        payload.update(changes)
    return items


@pytest.fixture
def program(org):
    return ProgramFactory(organization=org)


@pytest.fixture
def jeri(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=api_key[1])
    return client


def url(program) -> str:
    return f"/compat/jericommerce/v1/programs/{program.pk}/integrations/api"


def item(key: str, **payload) -> dict:
    """An item keyed by the email `key`, its external id derived from it."""
    payload = {"externalCustomerId": f"ext-{key}", **payload}
    return {"email": key, "feature": "users", "payload": payload}


def test_the_documented_structure_filled_in_creates_and_enrols(jeri, program):
    response = jeri.post(url(program), filled(), format="json")

    assert response.status_code == 201, response.json()
    [outcome] = response.json()
    assert outcome["status"] == "created"
    customer = Customer.objects.get()
    assert (customer.email, customer.external_id) == ("ana@example.com", "crm-1001")
    assert (customer.first_name, customer.last_name) == ("Ana", "Pérez")
    assert customer.phone == "+19332223333"
    assert customer.email_verified is False
    assert Enrollment.objects.filter(customer=customer, program=program).exists()


def test_the_documented_structure_verbatim_is_refused_item_by_item(jeri, program):
    response = jeri.post(url(program), STRUCTURE, format="json")

    assert response.status_code == 404  # every item failed
    [outcome] = response.json()
    assert outcome["status"] == "error"
    assert outcome["errors"][0]["field"] in {"email", "payload.email", "payload.phone"}
    assert not Customer.objects.exists()


def test_an_item_is_an_upsert_keyed_by_email(jeri, program):
    jeri.post(
        url(program), [item("bob@example.com", name="Bob", phone="8795779625")], format="json"
    )

    response = jeri.post(url(program), [item("bob@example.com", emailVerified=True)], format="json")

    assert response.status_code == 201
    assert response.json()[0]["status"] == "updated"
    customer = Customer.objects.get()
    assert customer.first_name == "Bob"  # not sent, not changed
    assert customer.phone == "+918795779625"
    assert customer.email_verified is True


def test_payload_email_changes_the_email_and_the_next_call_uses_it(jeri, program):
    jeri.post(url(program), [item("old@example.com")], format="json")

    jeri.post(url(program), [item("old@example.com", email="new@example.com")], format="json")
    response = jeri.post(url(program), [item("new@example.com", name="Renamed")], format="json")

    assert response.json()[0]["status"] == "updated"
    customer = Customer.objects.get()
    assert (customer.email, customer.first_name) == ("new@example.com", "Renamed")


def test_name_may_be_null(jeri, program):
    jeri.post(url(program), [item("c@example.com", name="Carla Diaz")], format="json")

    response = jeri.post(url(program), [item("c@example.com", name=None)], format="json")

    assert response.status_code == 201
    customer = Customer.objects.get()
    assert (customer.first_name, customer.last_name) == ("", "")


def test_external_customer_id_is_required_per_item(jeri, program):
    bad = {"email": "d@example.com", "feature": "users", "payload": {"name": "D"}}

    response = jeri.post(url(program), [bad, item("e@example.com")], format="json")

    assert response.status_code == 201
    first, second = response.json()
    assert first["status"] == "error"
    assert first["errors"][0]["field"] == "payload.externalCustomerId"
    assert second["status"] == "created"
    assert list(Customer.objects.values_list("email", flat=True)) == ["e@example.com"]


def test_all_items_failing_is_404(jeri, program):
    response = jeri.post(
        url(program), [item("not-an-email"), item("f@example.com", phone="12")], format="json"
    )

    assert response.status_code == 404
    assert [o["errors"][0]["field"] for o in response.json()] == ["email", "payload.phone"]
    assert not Customer.objects.exists()


def test_more_than_100_items_is_400_and_nothing_is_written(jeri, program):
    items = [item(f"u{i}@example.com") for i in range(101)]

    response = jeri.post(url(program), items, format="json")

    assert response.status_code == 400
    assert not Customer.objects.exists()
    assert jeri.post(url(program), items[:100], format="json").status_code == 201
    assert Customer.objects.count() == 100


def test_delete_by_email(jeri, program, org):
    CustomerFactory(organization=org, email="gone@example.com")

    response = jeri.delete(f"{url(program)}?email=Gone@Example.com")

    assert response.status_code == 201
    assert not Customer.objects.exists()
    assert jeri.delete(f"{url(program)}?email=gone@example.com").status_code == 404


@pytest.mark.parametrize("authorization", [None, "wrong", "Bearer wrong"])
def test_missing_or_wrong_key_is_401(program, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.post(url(program), [item("g@example.com")], format="json")

    assert response.status_code == 401
    assert set(response.json()) == {"error", "code"}
    assert not Customer.objects.exists()


def test_bearer_prefix_is_accepted(program, api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert client.post(url(program), [item("h@example.com")], format="json").status_code == 201


def test_another_organizations_programme_and_customers_are_404(jeri, other_org, org):
    foreign = ProgramFactory(organization=other_org)
    CustomerFactory(organization=other_org, email="theirs@example.com")
    mine = ProgramFactory(organization=org)

    assert jeri.post(url(foreign), [item("i@example.com")], format="json").status_code == 404
    assert jeri.delete(f"{url(mine)}?email=theirs@example.com").status_code == 404
    assert Customer.objects.filter(organization=other_org).count() == 1
    other_key = api_key_create(organization=other_org, name="Other")[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=other_key)
    assert client.post(url(mine), [item("j@example.com")], format="json").status_code == 404


@pytest.mark.parametrize(
    "query",
    ["email=plus2%2Btag@example.com", "email=plus2+tag@example.com"],
    ids=["encoded", "raw plus"],
)
def test_delete_by_an_email_with_a_plus_encoded_or_not(jeri, program, org, query):
    # Many HTTP clients leave "+" unencoded in a query, where it reads as a space.
    CustomerFactory(organization=org, email="plus2+tag@example.com")

    response = jeri.delete(f"{url(program)}?{query}")

    assert response.status_code == 201, response.json()
    assert response.json() == {"email": "plus2+tag@example.com", "deleted": True}
    assert not Customer.objects.exists()


def test_delete_by_a_text_that_is_no_email_either_way_is_400(jeri, program, org):
    response = jeri.delete(f"{url(program)}?email=not+an+email")

    assert response.status_code == 400
    assert response.json()["field"] == "email"


def test_a_phone_with_letters_is_refused_naming_the_field(jeri, program):
    response = jeri.post(url(program), [item("k@example.com", phone="98765abcde")], format="json")

    assert response.status_code == 404  # every item failed
    [outcome] = response.json()
    assert outcome["errors"][0]["field"] == "payload.phone"
    assert outcome["errors"][0]["code"] == "phone_invalid"
    assert not Customer.objects.exists()


def test_a_customer_created_at_the_native_api_is_updated_and_deleted_here(jeri, api, program, org):
    store = StoreFactory(organization=org, code="north.till")
    created = api.post(
        "/api/v1/customers/",
        {
            "first_name": "Nia",
            "email": "nia@example.com",
            "store": store.code,
            "source_accounts": [
                {"source": "INSTORE", "identifiers": [{"type": "cardnumber", "value": "C-1"}]}
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    created = created.json()["customer"]

    response = jeri.post(
        url(program),
        [item("Nia@Example.com", name="Nia Okafor", phone="8795779625")],
        format="json",
    )

    assert response.status_code == 201
    assert response.json()[0] == {
        "email": "Nia@Example.com",
        "status": "updated",
        "customerId": created["id"],
    }
    customer = Customer.objects.get()
    assert (customer.last_name, customer.phone) == ("Okafor", "+918795779625")
    assert customer.registered_store == store  # the door's writes leave the store as it was
    assert jeri.delete(f"{url(program)}?email=nia@example.com").status_code == 201
