"""Voucherify's official Python client (PyPI `voucherify`) driving the door over HTTP.

The client is pointed at the test server: its requests are those a brand's integration sends,
and its models deserialize our replies as they would Voucherify's.
"""

from collections.abc import Iterator

import pytest
import voucherify
from voucherify.api.customers_api import CustomersApi
from voucherify.exceptions import ApiException
from voucherify.models.customers_create_request_body import CustomersCreateRequestBody
from voucherify.models.customers_update_request_body import CustomersUpdateRequestBody

from customers.models import Customer
from tests.customers.factories import CustomerFactory

ROBERT = {
    "source_id": "crm-7",
    "name": "Robert Smith",
    "email": "Robert.Smith@Email.com",
    "phone": "+1 933 222 3333",
    "address": {"city": "New York", "line_1": "123 Main St.", "postal_code": "10001"},
    "metadata": {"lang": "en"},
}


@pytest.fixture
def customers(live_server, org, api_key) -> Iterator[CustomersApi]:
    configuration = voucherify.Configuration(
        host=f"{live_server.url}/compat/voucherify",
        api_key={"X-App-Id": org.slug, "X-App-Token": api_key[1]},
    )
    client = voucherify.ApiClient(configuration)
    yield CustomersApi(client)
    # The client never closes its connections (its ApiClient.__exit__ does nothing): a kept-alive
    # one would hold a server thread, and its database connection, past the test.
    client.rest_client.pool_manager.clear()


def test_a_customer_round_trips_with_its_email_and_phone_normalised(customers):
    created = customers.create_customer(CustomersCreateRequestBody.from_dict(ROBERT))

    # Deliberate difference (docs/compat/voucherify.md): one stored form for every door.
    assert (created.email, created.phone) == ("robert.smith@email.com", "+19332223333")
    assert created.id.startswith("cust_")
    assert created.address.city == "New York"
    read = customers.get_customer(created.id)
    assert (read.email, read.phone, read.source_id) == (created.email, created.phone, "crm-7")
    found = customers.list_customers(email="ROBERT.SMITH@email.com")
    assert [c.id for c in found.customers] == [created.id]


def test_the_email_filter_finds_an_address_with_a_plus(customers, org):
    customer = CustomerFactory(organization=org, email="plus2+tag@example.com")

    found = customers.list_customers(email="Plus2+Tag@example.com")

    assert [c.id for c in found.customers] == [customer.public_id]


def test_an_update_built_with_from_dict_changes_only_what_it_names(customers):
    created = customers.create_customer(CustomersCreateRequestBody.from_dict(ROBERT))
    body = CustomersUpdateRequestBody.from_dict(
        {"description": "VIP", "address": {"city": "Boston"}}
    )
    # from_dict marks every property as given, so the client sends null for each one the dict
    # lacks: name, email, phone, birthdate, metadata and the address's other lines.
    assert body.to_dict()["email"] is None
    assert body.to_dict()["address"]["line_1"] is None

    updated = customers.update_customer(created.id, body)

    assert updated.description == "VIP"
    assert (updated.name, updated.email, updated.phone) == (
        "Robert Smith",
        "robert.smith@email.com",
        "+19332223333",
    )
    assert (updated.address.city, updated.address.line_1, updated.address.postal_code) == (
        "Boston",
        "123 Main St.",
        "10001",
    )
    assert updated.metadata == {"lang": "en"}


def test_an_update_without_an_address_keeps_it(customers):
    created = customers.create_customer(CustomersCreateRequestBody.from_dict(ROBERT))
    body = CustomersUpdateRequestBody.from_dict({"name": "Bob Smith"})
    # The client's bug: from_dict sends `"address": null` for an address the dict does not
    # give, and null is the one value Voucherify's reference lets `address` take to clear it.
    # What the caller asked for is the address untouched, so it is not sent.
    body.model_fields_set.discard("address")

    updated = customers.update_customer(created.id, body)

    assert updated.name == "Bob Smith"
    assert updated.address.city == "New York"
    assert updated.email == "robert.smith@email.com"


def test_clearing_a_field_takes_an_empty_string(customers):
    created = customers.create_customer(CustomersCreateRequestBody.from_dict(ROBERT))

    updated = customers.update_customer(created.id, CustomersUpdateRequestBody(phone=""))

    assert updated.phone is None
    assert updated.email == "robert.smith@email.com"


def test_a_segment_filter_is_refused_by_name(customers, org):
    CustomerFactory(organization=org)

    with pytest.raises(ApiException) as refused:
        customers.list_customers(segment_id="seg_DZvSsr7yDA8sjrTYircSuqb1")

    assert refused.value.status == 400
    assert refused.value.data is None  # the client deserializes no error body
    body = refused.value.body
    assert '"key":"invalid"' in body.replace(" ", "")
    assert '"details":"segment_id:' in body.replace(" ", "")


def test_a_second_customer_with_the_same_email_is_409_email_taken(customers):
    customers.create_customer(CustomersCreateRequestBody(name="Ann", email="ann@example.com"))

    with pytest.raises(ApiException) as refused:
        customers.create_customer(CustomersCreateRequestBody(name="Ann B", email="Ann@example.com"))

    assert refused.value.status == 409
    assert '"key":"email_taken"' in refused.value.body.replace(" ", "")
    assert Customer.objects.count() == 1


def test_a_phone_with_letters_is_refused(customers):
    with pytest.raises(ApiException) as refused:
        customers.create_customer(CustomersCreateRequestBody(name="Al", phone="98765abcde"))

    assert refused.value.status == 400
    assert '"details":"phone:' in refused.value.body.replace(" ", "")
    assert not Customer.objects.exists()
