import pytest

from crm.errors import DomainError, ErrorCode
from customers.inputs import ChannelInput, IdentifierInput
from customers.models import CommChannel, Identifier, SourceAccount
from customers.services.channels import channel_add, channel_remove, channel_update
from customers.services.identifiers import identifier_add, identifier_remove, identifier_update
from tests.customers.factories import ChannelFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_identifier_add_creates_the_source_account(org):
    customer = CustomerFactory(organization=org)
    identifier = identifier_add(
        customer=customer,
        source="wechat",
        account_id="wx-1",
        data=IdentifierInput(type="mobile", value="8795779625"),
    )
    assert (identifier.source, identifier.account_id, identifier.value) == (
        "WECHAT",
        "wx-1",
        "+918795779625",
    )
    assert identifier.source_account.customer == customer
    assert identifier.organization == org


def test_the_same_identifier_twice_in_a_source_account_is_refused(org):
    first, second = CustomerFactory.create_batch(2, organization=org)
    identifier_add(customer=first, source="INSTORE", data=IdentifierInput("cardnumber", "123"))
    for customer in (first, second):
        with pytest.raises(DomainError) as caught:
            identifier_add(
                customer=customer, source="INSTORE", data=IdentifierInput("cardnumber", "123")
            )
        assert (caught.value.code, caught.value.field) == (
            ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
            "value",
        )
    assert Identifier.objects.count() == 1


def test_the_same_value_in_another_source_or_account_is_allowed(org):
    customer = CustomerFactory(organization=org)
    for source, account_id in [("LINE", "a"), ("LINE", "b"), ("INSTORE", "")]:
        identifier_add(
            customer=customer,
            source=source,
            account_id=account_id,
            data=IdentifierInput("email", "same@example.com"),
        )
    assert SourceAccount.objects.filter(customer=customer).count() == 3


def test_identifier_add_refuses_an_unknown_source(org):
    with pytest.raises(DomainError) as caught:
        identifier_add(
            customer=CustomerFactory(organization=org),
            source="ORKUT",
            data=IdentifierInput("email", "a@example.com"),
        )
    assert (caught.value.code, caught.value.field) == (ErrorCode.SOURCE_INVALID, "source")


def test_identifier_update_changes_value_but_not_type(org):
    customer = CustomerFactory(organization=org)
    identifier = identifier_add(
        customer=customer, source="INSTORE", data=IdentifierInput("mobile", "8795779625")
    )
    identifier_update(identifier=identifier, data=IdentifierInput("mobile", "+91 98045 42631"))
    identifier.refresh_from_db()
    assert identifier.value == "+919804542631"
    with pytest.raises(DomainError) as caught:
        identifier_update(identifier=identifier, data=IdentifierInput("email", "a@example.com"))
    assert caught.value.code == ErrorCode.IDENTIFIER_IMMUTABLE


def test_identifier_update_cannot_take_a_value_already_in_the_source_account(org):
    customer = CustomerFactory(organization=org)
    identifier_add(customer=customer, source="INSTORE", data=IdentifierInput("cuid", "a"))
    other = identifier_add(customer=customer, source="INSTORE", data=IdentifierInput("cuid", "b"))
    with pytest.raises(DomainError) as caught:
        identifier_update(identifier=other, data=IdentifierInput("cuid", "a"))
    assert caught.value.code == ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE


def test_identifier_remove(org):
    customer = CustomerFactory(organization=org)
    identifier = identifier_add(
        customer=customer, source="INSTORE", data=IdentifierInput("cuid", "a")
    )
    identifier_remove(identifier=identifier)
    assert not Identifier.objects.exists()


def test_a_new_primary_channel_demotes_the_old_one(org):
    customer = CustomerFactory(organization=org)
    old = channel_add(
        customer=customer, data=ChannelInput("email", "old@example.com", primary=True)
    )
    new = channel_add(
        customer=customer, data=ChannelInput("email", "New@example.com", primary=True)
    )
    old.refresh_from_db()
    assert (old.primary, new.primary, new.value) == (False, True, "new@example.com")
    mobile = channel_add(customer=customer, data=ChannelInput("mobile", "8795779625", primary=True))
    assert mobile.primary


def test_a_channel_the_customer_has_is_refused(org):
    customer = CustomerFactory(organization=org)
    channel_add(customer=customer, data=ChannelInput("email", "a@example.com"))
    with pytest.raises(DomainError) as caught:
        channel_add(customer=customer, data=ChannelInput("email", "A@example.com"))
    assert (caught.value.code, caught.value.field) == (ErrorCode.CHANNEL_TAKEN, "value")


def test_channel_update_and_remove(org):
    channel = ChannelFactory(
        customer=CustomerFactory(organization=org), type="mobile", value="+918795779625"
    )
    channel_update(
        channel=channel,
        data=ChannelInput("mobile", "9804542631", verified=True, subscribed=False),
    )
    channel.refresh_from_db()
    assert (channel.value, channel.verified, channel.subscribed) == ("+919804542631", True, False)
    with pytest.raises(DomainError) as caught:
        channel_update(channel=channel, data=ChannelInput("email", "a@example.com"))
    assert caught.value.code == ErrorCode.INVALID
    channel_remove(channel=channel)
    assert not CommChannel.objects.exists()
