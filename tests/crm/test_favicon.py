"""The product's icon: one small SVG among the static files, named by every page it serves."""

import pytest
from django.contrib.staticfiles import finders

from tests.loyalty.factories import CustomerCardFactory

pytestmark = pytest.mark.django_db

ICON_LINK = '<link rel="icon" href="/static/crm/favicon.svg" type="image/svg+xml">'


def test_the_icon_is_a_static_svg():
    path = finders.find("crm/favicon.svg")
    assert path is not None
    with open(path, encoding="utf-8") as file:
        assert file.read().startswith("<svg ")


def test_the_login_page_links_the_icon(client):
    assert ICON_LINK in client.get("/admin/login/").content.decode()


def test_admin_pages_link_the_icon(staff_client):
    assert ICON_LINK in staff_client.get("/admin/customers/customer/").content.decode()


def test_card_pages_and_the_api_docs_link_the_icon(client, org):
    card = CustomerCardFactory(customer__organization=org)
    assert ICON_LINK in client.get(f"/cards/{card.link_token}/").content.decode()
    assert ICON_LINK in client.get("/api/v1/docs/").content.decode()
