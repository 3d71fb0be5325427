from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.services import api_key_digest
from customers.models import Customer, Identifier
from tests.crm.factories import StaffFactory
from tests.customers.factories import CustomerFactory, IdentifierFactory
from tests.loyalty.factories import CustomerCardFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:customers_customer_changelist")
INLINES = ["source_accounts", "identifiers", "channels", "enrollments", "cards"]


def form_data(organization, **fields):
    """A complete customer form, with empty inline management forms, as the browser posts it."""
    data = {
        "organization": organization.pk,
        "first_name": "",
        "last_name": "",
        "email": "",
        "phone": "",
        "birthday": "",
        "external_id": "",
        "address_line1": "",
        "address_line2": "",
        "city": "",
        "state": "",
        "postal_code": "",
        "country": "",
        "loyalty_type": "loyalty",
        "status": "active",
        "status_label": "",
        "registered_store": "",
        "extended_fields": "{}",
        "custom_fields": "{}",
        "description": "",
    }
    for prefix in INLINES:
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    return data | fields


def search(client, term):
    response = client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    return response.context["cl"].result_list


def test_customer_list_runs_a_fixed_number_of_queries(
    staff_client, org, django_assert_max_num_queries
):
    def queries_for_list():
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(CHANGELIST).status_code == 200
        return len(queries)

    CustomerFactory.create_batch(3, organization=org)
    few = queries_for_list()
    CustomerFactory.create_batch(40, organization=org)
    assert queries_for_list() == few
    with django_assert_max_num_queries(6):
        staff_client.get(CHANGELIST)


def test_search_finds_customers_by_name_email_phone_identifier_and_card_code(staff_client, org):
    customer = CustomerFactory(
        organization=org, first_name="Mark", email="mark.twain@example.com", phone="+919804542631"
    )
    IdentifierFactory(source_account__customer=customer, value="cuid_919804542631")
    card = CustomerCardFactory(customer=customer)
    # Named so that no term below matches them (a random name may be another Mark).
    CustomerFactory.create_batch(3, organization=org, first_name="Ann", last_name="Lee")
    for term in ["mark", "twain@", "98045", "cuid_9198", card.code, card.code[:6].lower()]:
        assert list(search(staff_client, term)) == [customer], term


def test_search_finds_a_phone_number_written_in_the_organizations_region(staff_client, org):
    customer = CustomerFactory(organization=org, phone="+919873567294")
    CustomerFactory(organization=org, phone="+919873567295")
    for term in ["09873567294", "098735 67294", "0091 9873567294"]:
        assert list(search(staff_client, term)) == [customer], term


def test_search_finds_an_external_id_exactly(staff_client, org, other_org):
    customer = CustomerFactory(organization=org, external_id="POS-777")
    CustomerFactory(organization=org, external_id="POS-7770")
    CustomerFactory(organization=other_org, external_id="POS-777")
    assert list(search(staff_client, "POS-777")) == [customer]


class Forms(HTMLParser):
    """Each form of a page: its attributes and those of its inputs."""

    def __init__(self, page: str):
        super().__init__()
        self.forms: list[tuple[dict, list[dict]]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "form":
            self.forms.append((dict(attrs), []))
        elif tag == "input" and self.forms:
            self.forms[-1][1].append(dict(attrs))


def test_the_home_page_searches_customers(staff_client, client, org):
    page = staff_client.get(reverse("admin:index")).content.decode()

    [(form, inputs)] = [f for f in Forms(page).forms if f[0].get("id") == "customer-search"]
    assert (form["method"], form["action"]) == ("get", CHANGELIST)
    assert "q" in [field.get("name") for field in inputs]
    unable = StaffFactory(username="no-customers", organization=org)
    unable.user_permissions.remove(
        *Permission.objects.filter(
            content_type__app_label="customers", codename__in=["view_customer", "change_customer"]
        )
    )
    client.force_login(unable)
    assert 'id="customer-search"' not in client.get(reverse("admin:index")).content.decode()


def test_customer_change_page_shows_everything_inline(staff_client, org):
    customer = CustomerFactory(organization=org)
    IdentifierFactory(source_account__customer=customer, value="inline-identifier")
    enrollment = EnrollmentFactory(customer=customer, program__name="Inline programme")
    card = CustomerCardFactory(customer=customer, organization=org)
    page = staff_client.get(
        reverse("admin:customers_customer_change", args=[customer.pk])
    ).content.decode()
    for shown in ["inline-identifier", enrollment.program.name, card.code, "INSTORE"]:
        assert shown in page


def test_adding_a_customer_normalises_through_the_services(staff_client, org):
    response = staff_client.post(
        reverse("admin:customers_customer_add"),
        form_data(org, first_name="Ann", email="Ann@Example.COM", phone="98045 42631"),
    )
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.organization, customer.email, customer.phone) == (
        org,
        "ann@example.com",
        "+919804542631",
    )
    assert customer.public_id.startswith("cust_")
    assert customer.referral_code


def test_a_phone_taken_in_another_format_is_shown_as_an_error(staff_client, org):
    CustomerFactory(organization=org, phone="+919804542631")
    response = staff_client.post(
        reverse("admin:customers_customer_add"), form_data(org, phone="098045 42631")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Customer.objects.count() == 1


def test_an_unknown_extended_field_is_shown_as_an_error(staff_client, org):
    response = staff_client.post(
        reverse("admin:customers_customer_add"),
        form_data(org, extended_fields='{"shoe_size": 42}'),
    )
    assert "is not an extended field" in str(response.context["adminform"].form.errors)
    assert not Customer.objects.exists()


def test_identifiers_added_inline_go_through_the_services(staff_client, org):
    customer = CustomerFactory(organization=org, phone=None)
    other = CustomerFactory(organization=org)
    IdentifierFactory(
        source_account__customer=other,
        source_account__source="LINE",
        source_account__account_id="",
        type="mobile",
        value="+919804542631",
    )
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    inline = {
        "identifiers-TOTAL_FORMS": 1,
        "identifiers-0-source": "LINE",
        "identifiers-0-account_id": "",
        "identifiers-0-type": "mobile",
        "identifiers-0-value": "98045 42631",
    }

    response = staff_client.post(url, form_data(org, email=customer.email) | inline)
    assert response.status_code == 200
    assert "already registered in LINE" in response.content.decode()

    inline["identifiers-0-source"] = "WECHAT"
    response = staff_client.post(url, form_data(org, email=customer.email) | inline)
    assert response.status_code == 302
    identifier = Identifier.objects.get(customer=customer)
    assert (identifier.value, identifier.source, identifier.organization) == (
        "+919804542631",
        "WECHAT",
        org,
    )


def test_a_new_api_key_is_shown_once_and_stored_as_a_digest(staff_client, org):
    response = staff_client.post(
        reverse("admin:crm_apikey_add"), {"organization": org.pk, "name": "POS"}, follow=True
    )
    [message] = [str(m) for m in response.context["messages"] if "new key" in str(m)]
    raw_key = message.split("The new key is ")[1].split(" ")[0]
    api_key = org.api_keys.get()
    assert api_key.key_hash == api_key_digest(raw_key)
    assert raw_key.startswith(api_key.prefix)
    assert (
        raw_key
        not in staff_client.get(
            reverse("admin:crm_apikey_change", args=[api_key.pk])
        ).content.decode()
    )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/customers/customer/?status__exact=%00",
        "/admin/customers/customer/?loyalty_type__exact=a%00b",
        "/admin/loyalty/cardlinkdelivery/?status__exact=%00",
        "/admin/autocomplete/?term=%00&app_label=customers&model_name=customer"
        "&field_name=referred_by",
    ],
)
def test_a_nul_in_an_admin_query_is_a_400_naming_the_parameter(superuser_client, url):
    response = superuser_client.get(url)
    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()
