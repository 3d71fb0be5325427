"""PUT v2/customers changes the fields it is sent and nothing else (document 003)."""

import pytest

from customers.models import SourceAccount
from tests.compat.capillary.client import CUSTOMERS

IN_LINE = "?source=LINE&accountId=2001914141242"
PUSH = {
    "type": "mobilePush",
    "value": "abc123456",
    "primary": "true",
    "verified": "true",
    "meta": {"lastViewedDate": "2019-10-10T22:04:38+05:30", "residence": False},
}


def put(capillary, customer, body, query=IN_LINE):
    response = capillary.put(f"{CUSTOMERS}/{customer.pk}{query}", body, format="json")
    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    return response


def test_a_first_name_alone_keeps_the_last_name(capillary, registered):
    put(capillary, registered, {"profiles": [{"firstName": "Samuel"}]})

    assert (registered.first_name, registered.last_name) == ("Samuel", "Twain")


@pytest.mark.parametrize(
    "profile",
    [
        {"commChannels": [{"type": "email", "value": "mark@example.com", "primary": True}]},
        {"fields": {"city": "Hannibal"}},
        {"source": "LINE", "accountId": "2001914141242", "commChannels": [PUSH]},
        {"commChannels": [PUSH]},
    ],
    ids=["channels", "custom-fields", "source-and-account", "mobile-push"],
)
def test_a_profile_without_names_keeps_both(capillary, registered, profile):
    put(capillary, registered, {"profiles": [profile]})

    assert (registered.first_name, registered.last_name) == ("Mark", "Twain")
    account = SourceAccount.objects.get(customer=registered)
    assert (account.first_name, account.last_name) == ("Mark", "Twain")


@pytest.mark.parametrize("cleared", ["", None])
@pytest.mark.parametrize("spelling", ["lastName", "Lastname"])
def test_a_name_sent_empty_or_null_is_cleared(capillary, registered, cleared, spelling):
    put(capillary, registered, {"profiles": [{"firstName": "Samuel", spelling: cleared}]})

    assert (registered.first_name, registered.last_name) == ("Samuel", "")


def test_the_profile_of_the_source_records_the_names_and_fields_sent(capillary, registered):
    body = {"profiles": [{"firstName": "Samuel", "fields": {"city": "Hannibal"}}]}

    put(capillary, registered, body)

    account = SourceAccount.objects.get(customer=registered)
    assert (account.first_name, account.last_name) == ("Samuel", "Twain")
    assert account.custom_fields["city"] == "Hannibal"
    read = capillary.get(f"{CUSTOMERS}/{registered.pk}").json()
    assert read["profiles"][0]["firstName"] == "Samuel"
