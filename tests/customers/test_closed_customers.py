"""A merged or erased customer no longer changes, through any door: the services refuse it with
the one code `customer_closed`. A merged customer's old id resolves to the survivor, for writes
as for reads."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from rest_framework.test import APIClient

from crm.actors import SYSTEM
from crm.errors import DomainError, ErrorCode
from customers.inputs import ChannelInput, CustomerInput, EnrollmentInput
from customers.membership.erasure import customer_erase
from customers.membership.merge import customer_merge
from customers.membership.registration import customer_register
from customers.models import Customer
from customers.services.channels import channel_add
from loyalty.services.points import points_award
from loyalty.services.stamps import stamps_add
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory, SourceAccountFactory
from tests.customers.test_admin import form_data
from tests.customers.test_import_engine import imported
from tests.loyalty.factories import CustomerCardFactory, EnrollmentFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def erased(org, **fields) -> Customer:
    customer = CustomerFactory(organization=org, first_name="Ana", **fields)
    customer_erase(customer=customer, actor=SYSTEM)
    customer.refresh_from_db()
    return customer


def reidentified(customer: Customer, email: str) -> Customer:
    """An erased customer given an email again, as the API allowed before it refused that."""
    Customer.objects.filter(pk=customer.pk).update(email=email)
    customer.refresh_from_db()
    return customer


def merged(org, **fields) -> tuple[Customer, Customer]:
    survivor = CustomerFactory(organization=org, first_name="Survivor")
    tombstone = CustomerFactory(organization=org, **fields)
    customer_merge(survivor=survivor, merged=tombstone, actor=SYSTEM)
    tombstone.refresh_from_db()
    return survivor, tombstone


def unchanged(customer: Customer) -> bool:
    before = {name: getattr(customer, name) for name in ("first_name", "email", "updated_at")}
    customer.refresh_from_db()
    return before == {name: getattr(customer, name) for name in before}


# --- the services -------------------------------------------------------------------------------


def test_the_loyalty_services_refuse_an_erased_customers_enrolments_and_cards(org):
    customer = CustomerFactory(organization=org)
    enrollment = EnrollmentFactory(customer=customer)
    card = CustomerCardFactory(customer=customer)
    customer_erase(customer=customer, actor=SYSTEM)
    enrollment.refresh_from_db()
    card.refresh_from_db()

    with pytest.raises(DomainError) as points:
        points_award(organization=org, enrollment=enrollment, points=5, actor=SYSTEM)
    with pytest.raises(DomainError) as stamps:
        stamps_add(organization=org, card=card, stamps=1, actor=SYSTEM)

    assert points.value.code == stamps.value.code == ErrorCode.CUSTOMER_CLOSED
    assert enrollment.points_transactions.count() == 0
    assert card.transactions.count() == 0


def test_a_merged_tombstone_gets_no_channel(org):
    _, tombstone = merged(org)
    with pytest.raises(DomainError) as refused:
        channel_add(customer=tombstone, data=ChannelInput(type="email", value="x@example.com"))
    assert refused.value.code == ErrorCode.CUSTOMER_CLOSED
    assert tombstone.merged_into.public_id in refused.value.message
    assert not tombstone.channels.exists()


def test_a_merged_referrers_code_rewards_the_survivor_and_an_erased_one_nobody(org):
    program = ProgramFactory(organization=org, referee_points=5, referrer_points=10)
    survivor, tombstone = merged(org)
    EnrollmentFactory(customer=survivor, program=program)
    gone = erased(org)
    EnrollmentFactory(customer=gone, program=program)

    def register(code, email):
        data = CustomerInput(
            email=email, referral_code=code, enrollments=[EnrollmentInput(program.pk)]
        )
        return customer_register(organization=org, data=data, actor=SYSTEM).customer

    assert register(tombstone.referral_code, "one@example.com").referred_by == survivor
    assert register(gone.referral_code, "two@example.com").referred_by == gone
    assert survivor.enrollments.get().points_balance == 10
    assert gone.enrollments.get().points_balance == 0


# --- the native API -----------------------------------------------------------------------------


def test_the_api_refuses_to_edit_or_re_identify_an_erased_customer(api, org):
    customer = erased(org)
    enrollment = EnrollmentFactory(customer=customer)
    url = f"/api/v1/customers/{customer.public_id}"

    patch = api.patch(f"{url}/", {"email": "ana@example.com", "first_name": "Ana"}, format="json")
    identifier = api.post(
        f"{url}/identifiers/", {"source": "INSTORE", "type": "cuid", "value": "x"}, format="json"
    )
    channel = api.post(
        f"{url}/channels/", {"type": "email", "value": "ana@example.com"}, format="json"
    )
    points = api.post(
        f"{url}/points/",
        {"program_id": enrollment.program_id, "action": "award", "points": 5},
        format="json",
    )

    for response in (patch, identifier, channel, points):
        assert response.status_code == 409, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "customer_closed"
    assert patch.json()["errors"][0]["field"] == "customer"
    assert unchanged(customer)
    assert not customer.identifiers.exists()
    assert not customer.channels.exists()
    assert api.get(f"{url}/").status_code == 200  # still there to read


def test_the_api_acts_on_the_survivor_for_a_merged_customers_old_id(api, org):
    survivor, tombstone = merged(org)

    response = api.patch(
        f"/api/v1/customers/{tombstone.public_id}/", {"last_name": "Kept"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["customer"]["id"] == survivor.public_id
    survivor.refresh_from_db()
    assert survivor.last_name == "Kept"
    assert unchanged(tombstone)


# --- the vendor doors ---------------------------------------------------------------------------


def test_jericommerce_refuses_an_item_matched_to_an_erased_customer(api_key, org):
    customer = reidentified(erased(org), "ana@example.com")
    program = ProgramFactory(organization=org)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=api_key[1])

    response = client.post(
        f"/compat/jericommerce/v1/programs/{program.pk}/integrations/api",
        [
            {
                "email": "ana@example.com",
                "feature": "users",
                "payload": {"externalCustomerId": "ext-ana", "name": "Ana Lima"},
            }
        ],
        format="json",
    )

    assert response.status_code == 404  # every item failed
    [item] = response.json()
    assert (item["status"], item["errors"][0]["code"]) == ("error", "customer_closed")
    assert unchanged(customer)
    assert not customer.enrollments.exists()


def test_capillary_refuses_to_update_an_erased_customer(api, org):
    customer = erased(org)
    SourceAccountFactory(customer=customer, source="INSTORE", account_id="")

    response = api.put(
        f"/compat/capillary/v2/customers/{customer.pk}?source=INSTORE",
        {"profiles": [{"Firstname": "Ana", "Lastname": "Lima"}]},
        format="json",
    )

    assert response.status_code == 409, response.json()
    [error] = response.json()["errors"]
    assert (error["code"], error["reason"]) == (409, "customer_closed")
    assert unchanged(customer)


def test_voucherify_refuses_to_update_an_erased_customer(org, api_key):
    customer = erased(org)
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=org.slug, HTTP_X_APP_TOKEN=api_key[1])

    response = client.put(
        f"/compat/voucherify/v1/customers/{customer.public_id}",
        {"name": "Ana Lima", "email": "ana@example.com"},
        format="json",
    )

    assert response.status_code == 409, response.json()
    assert response.json()["key"] == "customer_closed"
    assert unchanged(customer)


def test_leal_refuses_to_update_a_merged_tombstone_or_an_erased_customer(api, org):
    store = StoreFactory(organization=org)
    _, tombstone = merged(org, registered_store=store)
    gone = erased(org, registered_store=store)

    for customer in (tombstone, gone):
        response = api.put(
            f"/compat/leal/api/v1/accounts/{store.pk}/customers/{customer.pk}",
            {"customer": {"first_name": "Ana", "email": f"ana{customer.pk}@example.com"}},
            format="json",
        )
        assert response.status_code == 422, response.json()
        assert list(response.json()["errors"]) == ["customer"]
        assert unchanged(customer)


# --- imports, the admin and the console ---------------------------------------------------------


def test_an_import_row_matched_to_an_erased_customer_is_a_row_error(org):
    customer = reidentified(erased(org), "ana@example.com")

    outcomes = imported(org, "first_name,email\nAna,ana@example.com\n")

    assert outcomes == [("failed", "customer_closed", "customer")]
    assert unchanged(customer)


def test_the_admin_refuses_to_save_an_erased_customer(staff_client, org):
    customer = erased(org)
    url = reverse("admin:customers_customer_change", args=[customer.pk])

    response = staff_client.post(url, form_data(org, first_name="Ana", email="ana@example.com"))

    assert response.status_code == 200
    assert "was erased" in str(response.context["adminform"].form.non_field_errors())
    assert unchanged(customer)


def test_the_console_still_says_the_customer_was_merged_or_erased(staff_client, org):
    customer = CustomerFactory(organization=org)
    card = CustomerCardFactory(customer=customer)
    customer_erase(customer=customer, actor=SYSTEM)

    response = staff_client.post(
        reverse("admin:customers_customer_action", args=[customer.pk, "stamps"]),
        {"card": card.pk, "stamps": 1},
    )

    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages[-1] == "Add stamps: this customer was merged or erased."
    card.refresh_from_db()
    assert card.stamps == 0
