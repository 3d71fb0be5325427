import pytest
from rest_framework.test import APIClient

from customers.models import Customer
from tests.compat.capillary.client import CUSTOMERS, basic
from tests.compat.fixtures import load
from tests.crm.factories import StoreFactory
from tests.customers.factories import StatusLabelFactory
from tests.loyalty.factories import ProgramFactory, TierFactory


@pytest.fixture
def capillary(org, api_key):
    """A client of `org` set up as the Capillary examples assume: region IN, programme 469 with
    tier 1, the till bukl.till and the status label active-1."""
    program = ProgramFactory(pk=469, organization=org, name="Loyalty")
    TierFactory(program=program, number=1, name="Silver")
    StoreFactory(organization=org, code="bukl.till")
    StatusLabelFactory(organization=org, name="active-1", status="active")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(api_key[1]))
    return client


@pytest.fixture
def registered(capillary):
    """Mark Twain, registered in LINE account 2001914141242 by the document's third example."""
    reply = capillary.post(
        CUSTOMERS, load("capillary", "3_register_line_account.json"), format="json"
    ).json()
    return Customer.objects.get(pk=reply["createdId"])
