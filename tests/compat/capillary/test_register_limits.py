"""What POST v2/customers refuses of a profile (document 001)."""

import pytest

from customers.models import Customer
from tests.compat.capillary.client import CUSTOMERS
from tests.compat.fixtures import load


@pytest.mark.parametrize("identifiers", [[], None], ids=["empty", "absent"])
def test_a_profile_needs_an_identifier(capillary, identifiers):
    body = load("capillary", "5_register_external_id_only.json")
    if identifiers is None:
        del body["profiles"][0]["identifiers"]
    else:
        body["profiles"][0]["identifiers"] = identifiers

    response = capillary.post(CUSTOMERS, body, format="json")

    assert response.status_code == 400
    assert response.json()["warnings"] == []
    [error] = response.json()["errors"]
    assert (error["status"], error["code"], error["field"], error["reason"]) == (
        False,
        400,
        "profiles[0].identifiers",
        "required",
    )
    assert not Customer.objects.exists()


def test_a_second_profile_without_identifiers_is_refused_too(capillary):
    body = load("capillary", "1_register_instore_mobile_email.json")
    body["profiles"].append({"firstName": "Mark", "source": "WEBSITE", "identifiers": []})

    response = capillary.post(CUSTOMERS, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "profiles[1].identifiers"
    assert not Customer.objects.exists()


@pytest.mark.parametrize("where", ["identifiers", "commChannels"])
def test_an_email_over_255_characters_is_refused_not_cut(capillary, where):
    long_email = "m" * 244 + "@example.com"  # 256 characters
    body = load("capillary", "1_register_instore_mobile_email.json")
    body["profiles"][0][where][1]["value"] = long_email

    response = capillary.post(CUSTOMERS, body, format="json")

    assert response.status_code == 400
    assert response.json()["warnings"] == []
    [error] = response.json()["errors"]
    assert (error["status"], error["code"], error["field"], error["reason"]) == (
        False,
        400,
        f"profiles[0].{where}[1].value",
        "too_long",
    )
    assert "255 characters" in error["message"]
    assert not Customer.objects.exists()


def test_an_email_of_255_characters_is_kept_whole(capillary):
    email = "m" * 243 + "@example.com"
    body = load("capillary", "1_register_instore_mobile_email.json")
    body["profiles"][0]["identifiers"][1]["value"] = email
    body["profiles"][0]["commChannels"][1]["value"] = email

    response = capillary.post(CUSTOMERS, body, format="json")

    assert response.status_code == 200, response.json()
    assert Customer.objects.get(pk=response.json()["createdId"]).email == email
