import factory

from customers.models import CommChannel, Customer, Identifier, SourceAccount, StatusLabel
from tests.crm.factories import OrganizationFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"+9198{n:08d}")
    referral_code = factory.Sequence(lambda n: f"REF{n:05d}")


class SourceAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SourceAccount

    customer = factory.SubFactory(CustomerFactory)
    source = "INSTORE"
    account_id = factory.Sequence(lambda n: f"account-{n}")


class IdentifierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identifier

    source_account = factory.SubFactory(SourceAccountFactory)
    customer = factory.SelfAttribute("source_account.customer")
    organization = factory.SelfAttribute("customer.organization")
    source = factory.SelfAttribute("source_account.source")
    account_id = factory.SelfAttribute("source_account.account_id")
    type = "externalId"
    value = factory.Sequence(lambda n: f"ext-{n}")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommChannel

    customer = factory.SubFactory(CustomerFactory)
    type = "email"
    value = factory.Sequence(lambda n: f"channel{n}@example.com")


class StatusLabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusLabel

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"label-{n}")
    status = "active"
