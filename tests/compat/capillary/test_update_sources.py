"""Which profile PUT v2/customers changes: its `source` and `accountId` (document 003)."""

import pytest
from rest_framework.test import APIClient

from customers.models import Customer, SourceAccount
from tests.compat.capillary.client import CUSTOMERS
from tests.compat.fixtures import load
from tests.customers.factories import CustomerFactory


def registered_in(capillary, source: str) -> Customer:
    """The document's MOBILE_APP example, registered in `source` without an account id."""
    body = load("capillary", "2_register_mobile_app_account.json")
    body["profiles"][0]["source"] = source
    del body["profiles"][0]["accountId"]
    reply = capillary.post(CUSTOMERS, body, format="json").json()
    return Customer.objects.get(pk=reply["createdId"])


@pytest.mark.parametrize("source", ["MOBILE_APP", "WECHAT"])
def test_a_profile_without_an_account_id_is_updated_without_one(capillary, source):
    customer = registered_in(capillary, source)

    response = capillary.put(
        f"{CUSTOMERS}?customerId={customer.pk}&source={source}",
        {"profiles": [{"firstName": "Samuel"}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Samuel", "Twain")
    assert customer.source_accounts.count() == 1


def test_a_single_account_source_finds_its_profile_whatever_its_account_id(capillary):
    reply = capillary.post(
        CUSTOMERS, load("capillary", "2_register_mobile_app_account.json"), format="json"
    ).json()

    response = capillary.put(
        f"{CUSTOMERS}/{reply['createdId']}?source=MOBILE_APP",
        {"profiles": [{"firstName": "Samuel"}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    [account] = SourceAccount.objects.filter(customer_id=reply["createdId"])
    assert (account.account_id, account.first_name) == ("testmobilepush1", "Samuel")


def test_a_multi_account_source_needs_the_account_when_the_profile_has_one(capillary, registered):
    response = capillary.put(
        f"{CUSTOMERS}/{registered.pk}?source=LINE",
        {"profiles": [{"firstName": "X"}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "accountId"
    registered.refresh_from_db()
    assert registered.first_name == "Mark"


def test_a_customer_with_several_profiles_in_the_source_needs_the_account(capillary, org):
    customer = CustomerFactory(organization=org, first_name="Mark")
    customer.source_accounts.create(source="MOBILE_APP", account_id="app-1")
    customer.source_accounts.create(source="MOBILE_APP", account_id="app-2")

    response = capillary.put(
        f"{CUSTOMERS}/{customer.pk}?source=MOBILE_APP",
        {"profiles": [{"firstName": "X"}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "accountId"
    customer.refresh_from_db()
    assert customer.first_name == "Mark"


def test_an_invalid_source_is_error_3217(capillary, registered):
    response = capillary.put(
        f"{CUSTOMERS}/{registered.pk}?source=MYSPACE",
        {"profiles": [{"firstName": "X"}]},
        format="json",
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["field"], error["reason"]) == (3217, "source", "source_invalid")
    registered.refresh_from_db()
    assert registered.first_name == "Mark"


# --- a customer the client never registered in this source ------------------------------------


def test_a_customer_of_the_native_api_is_updated_and_gets_the_profile(capillary, api):
    created = api.post(
        "/api/v1/customers/",
        {"first_name": "Mira", "last_name": "Lind", "email": "mira@example.com"},
        format="json",
    )
    customer = Customer.objects.get(public_id=created.json()["customer"]["id"])
    assert not customer.source_accounts.exists()

    response = capillary.put(
        f"{CUSTOMERS}?customerId={customer.pk}&source=INSTORE",
        {"profiles": [{"firstName": "Mirabel", "fields": {"employee": "true"}}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["warnings"][0]["code"] == 8108
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.email) == (
        "Mirabel",
        "Lind",
        "mira@example.com",
    )
    [account] = customer.source_accounts.all()
    assert (account.source, account.account_id, account.first_name) == ("INSTORE", "", "Mirabel")
    assert account.custom_fields == {"employee": "true"}
    [profile] = capillary.get(f"{CUSTOMERS}/{customer.pk}").json()["profiles"]
    assert (profile["source"], profile["firstName"], profile["lastName"]) == (
        "INSTORE",
        "Mirabel",
        "Lind",
    )


def test_a_customer_of_another_door_is_updated_in_a_source_account_of_its_own(
    capillary, org, api_key
):
    voucherify = APIClient()
    voucherify.credentials(HTTP_X_APP_ID=org.slug, HTTP_X_APP_TOKEN=api_key[1])
    voucherify.post(
        "/compat/voucherify/v1/customers", load("voucherify", "create_customer.json"), format="json"
    )
    customer = Customer.objects.get(email="bob.smith@email.com")

    response = capillary.put(
        f"{CUSTOMERS}/{customer.pk}?source=WECHAT&accountId=wx-official-1",
        {"profiles": [{"lastName": "Smithers"}], "extendedFields": {"gender": "Male"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Bob", "Smithers")
    assert customer.extended_fields["gender"] == "Male"
    keys = set(customer.source_accounts.values_list("source", "account_id"))
    assert ("WECHAT", "wx-official-1") in keys


def test_a_profile_in_another_source_is_added_beside_the_registered_one(capillary, registered):
    url = f"{CUSTOMERS}/{registered.pk}?source=WECHAT&accountId=x"

    first = capillary.put(url, {"profiles": [{"firstName": "Samuel"}]}, format="json")
    again = capillary.put(url, {"profiles": [{"lastName": "Clemens"}]}, format="json")

    assert first.status_code == again.status_code == 200
    assert [w["code"] for w in first.json()["warnings"]] == [8108]
    assert again.json()["warnings"] == []
    registered.refresh_from_db()
    assert (registered.first_name, registered.last_name) == ("Samuel", "Clemens")
    accounts = {(a.source, a.account_id): a for a in registered.source_accounts.all()}
    assert set(accounts) == {("LINE", "2001914141242"), ("WECHAT", "x")}
    assert (accounts["LINE", "2001914141242"].first_name, accounts["WECHAT", "x"].first_name) == (
        "Mark",
        "Samuel",
    )
