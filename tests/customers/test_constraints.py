"""The database itself refuses what the services would never write."""

import pytest
from django.db import IntegrityError, transaction

from customers.models import Customer, ExtendedFieldDefinition, StatusLabel
from tests.customers.factories import (
    ChannelFactory,
    CustomerFactory,
    IdentifierFactory,
    SourceAccountFactory,
    StatusLabelFactory,
)

pytestmark = pytest.mark.django_db


def violates(factory, **fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**fields)


def test_email_unique_per_organization(org, other_org):
    CustomerFactory(organization=org, email="a@example.com")
    violates(CustomerFactory, organization=org, email="a@example.com")
    CustomerFactory(organization=other_org, email="a@example.com")


def test_email_must_be_stored_lower_case(org):
    violates(CustomerFactory, organization=org, email="A@example.com")


def test_many_customers_without_email_phone_or_external_id(org):
    CustomerFactory.create_batch(3, organization=org, email=None, phone=None, external_id=None)
    assert Customer.objects.count() == 3


def test_phone_unique_per_organization_and_in_e164(org):
    CustomerFactory(organization=org, phone="+919804542631")
    violates(CustomerFactory, organization=org, phone="+919804542631")
    violates(CustomerFactory, organization=org, phone="9804542631")


def test_external_id_and_referral_code_unique_per_organization(org):
    CustomerFactory(organization=org, external_id="X", referral_code="R1")
    violates(CustomerFactory, organization=org, external_id="X")
    violates(CustomerFactory, organization=org, referral_code="R1")


def test_status_and_loyalty_type_must_be_known(org):
    violates(CustomerFactory, organization=org, status="asleep")
    violates(CustomerFactory, organization=org, loyalty_type="maybe")


def test_a_customer_cannot_refer_themselves(org):
    customer = CustomerFactory(organization=org)
    customer.referred_by = customer
    with pytest.raises(IntegrityError), transaction.atomic():
        customer.save()


def test_identifier_unique_per_organization_source_and_account(org, other_org):
    identifier = IdentifierFactory(source_account__customer__organization=org, value="v1")
    other_customer = CustomerFactory(organization=org)
    same_account = SourceAccountFactory(
        customer=other_customer, source=identifier.source, account_id=identifier.account_id
    )
    violates(IdentifierFactory, source_account=same_account, type=identifier.type, value="v1")
    other_account = SourceAccountFactory(customer=other_customer, source="INSTORE", account_id="2")
    IdentifierFactory(source_account=other_account, type=identifier.type, value="v1")
    IdentifierFactory(
        source_account__customer__organization=other_org, type=identifier.type, value="v1"
    )


def test_identifier_source_and_type_must_be_known(org):
    account = SourceAccountFactory(customer__organization=org)
    violates(IdentifierFactory, source_account=account, type="fax")
    violates(SourceAccountFactory, customer=account.customer, source="MYSPACE")


def test_one_source_account_per_source_and_account_id(org):
    account = SourceAccountFactory(customer__organization=org, source="LINE", account_id="a")
    violates(SourceAccountFactory, customer=account.customer, source="LINE", account_id="a")


def test_one_primary_channel_per_type(org):
    customer = CustomerFactory(organization=org)
    ChannelFactory(customer=customer, type="email", primary=True)
    ChannelFactory(customer=customer, type="mobile", value="+918795779625", primary=True)
    violates(ChannelFactory, customer=customer, type="email", primary=True)


def test_one_default_status_label_per_organization(org):
    StatusLabelFactory(organization=org, is_default=True)
    violates(StatusLabelFactory, organization=org, is_default=True)
    violates(StatusLabelFactory, organization=org, name=StatusLabel.objects.get().name.upper())


def test_extended_field_names_unique_per_organization_and_globally(org):
    ExtendedFieldDefinition.objects.create(organization=org, name="visits", data_type="integer")
    with pytest.raises(IntegrityError), transaction.atomic():
        ExtendedFieldDefinition.objects.create(organization=org, name="visits", data_type="string")
    with pytest.raises(IntegrityError), transaction.atomic():
        ExtendedFieldDefinition.objects.create(name="gender", data_type="string")
