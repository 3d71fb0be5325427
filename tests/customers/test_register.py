import datetime as dt

import pytest

from crm.errors import DomainError, ErrorCode
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from customers.membership.registration import customer_register
from customers.models import Customer, ExtendedFieldDefinition, Identifier, SourceAccount
from customers.services.registration import DEFAULT_STATUS_LABEL_NOT_SET
from loyalty.models import PointsTransaction, StampTransaction
from loyalty.side_effects import PointsAwarded, StampsAdded
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory, StatusLabelFactory
from tests.loyalty.factories import ProgramFactory, StampCardFactory, TierFactory

pytestmark = pytest.mark.django_db


def account(source="INSTORE", account_id="", **identifiers):
    return SourceAccountInput(
        source=source,
        account_id=account_id,
        identifiers=[IdentifierInput(type=t, value=v) for t, v in identifiers.items()],
    )


def register(org, **fields):
    return customer_register(organization=org, data=CustomerInput(**fields))


def refused(org, code, field, **fields):
    before = Customer.objects.count()
    with pytest.raises(DomainError) as caught:
        register(org, **fields)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert Customer.objects.count() == before
    return caught.value


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"first_name": "  ", "last_name": "", "email": " ", "phone": None},
        {"store_code": "", "custom_fields": {"colour": "blue"}, "description": "walk-in"},
        {"source_accounts": [account("INSTORE")]},
    ],
    ids=["nothing", "blanks", "no-identity", "an-account-without-identifiers"],
)
def test_a_customer_with_nothing_to_know_them_by_is_refused(org, fields):
    error = refused(org, ErrorCode.REQUIRED, None, **fields)
    assert "name, an email, a phone, an external id, an identifier or a channel" in error.message


@pytest.mark.parametrize(
    "fields",
    [
        {"last_name": "Rao"},
        {"external_id": "X-1"},
        {"source_accounts": [account("INSTORE", cuid="c-1")]},
        {"channels": [ChannelInput(type="mobilePush", value="token-123")]},
    ],
)
def test_any_one_thing_to_know_a_customer_by_is_enough(org, fields):
    assert register(org, **fields).created


def test_profile_is_normalised(org):
    result = register(
        org,
        first_name=" Tom ",
        last_name="Sawyer",
        email="  Tom.Sawyer@Example.COM ",
        phone="8795779625",
        birthday=dt.date(1988, 5, 10),
    )
    customer = Customer.objects.get()
    assert result.created
    assert result.customer == customer
    assert (customer.first_name, customer.email, customer.phone) == (
        "Tom",
        "tom.sawyer@example.com",
        "+918795779625",
    )
    assert customer.public_id.startswith("cust_")
    assert len(customer.referral_code) == 8


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("919804542631", "+919804542631"),
        ("+1 933 222 3333", "+19332223333"),
        ("4567890", "+914567890"),
    ],
)
def test_phone_numbers_with_and_without_country_code(org, phone, stored):
    assert register(org, phone=phone).customer.phone == stored


def test_phone_without_country_code_needs_a_default_region(org):
    org.default_region = ""
    org.save()
    error = refused(org, ErrorCode.PHONE_INVALID, "phone", phone="8795779625")
    assert "country code" in error.message


def test_impossible_phone_is_refused(org):
    refused(org, ErrorCode.PHONE_INVALID, "phone", phone="12")


def test_invalid_email_is_refused(org):
    refused(org, ErrorCode.EMAIL_INVALID, "email", email="not-an-email")


def test_names_longer_than_100_characters_are_refused(org):
    refused(org, ErrorCode.TOO_LONG, "first_name", first_name="x" * 101)


def test_email_is_unique_per_organization_whatever_its_case(org, other_org):
    register(org, email="ann@example.com")
    refused(org, ErrorCode.EMAIL_TAKEN, "email", email="ANN@example.com")
    assert register(other_org, email="ann@example.com").created


def test_phone_and_external_id_are_unique_per_organization(org):
    register(org, phone="+919804542631", external_id="X-1")
    refused(org, ErrorCode.PHONE_TAKEN, "phone", phone="9804542631")
    refused(org, ErrorCode.EXTERNAL_ID_TAKEN, "external_id", external_id="X-1")


def test_warns_when_no_default_status_label_is_set(org):
    result = register(org, first_name="Ann")
    assert [w.code for w in result.warnings] == [DEFAULT_STATUS_LABEL_NOT_SET]
    assert result.customer.status == "active"


def test_default_status_label_is_given(org):
    label = StatusLabelFactory(organization=org, name="Member", is_default=True)
    result = register(org, first_name="Ann")
    assert result.warnings == []
    assert result.customer.status_label == label


def test_status_label_by_name_sets_the_status(org):
    label = StatusLabelFactory(organization=org, name="active-1", status="internal")
    customer = register(org, first_name="Ann", status_label="ACTIVE-1").customer
    assert (customer.status_label, customer.status) == (label, "internal")


def test_unknown_status_label_is_refused(org, other_org):
    StatusLabelFactory(organization=other_org, name="vip")
    refused(org, ErrorCode.STATUS_LABEL_UNKNOWN, "status_label", status_label="vip")


def test_identifiers_are_kept_per_source_account(org):
    result = register(
        org,
        source_accounts=[
            account("MOBILE_APP", "testmobilepush1", mobile="919804542631", cuid="cuid_1")
        ],
    )
    customer = result.customer
    [source_account] = customer.source_accounts.all()
    assert (source_account.source, source_account.account_id) == ("MOBILE_APP", "testmobilepush1")
    identifiers = {(i.type, i.value) for i in source_account.identifiers.all()}
    assert identifiers == {("mobile", "+919804542631"), ("cuid", "cuid_1")}
    assert {i.organization_id for i in source_account.identifiers.all()} == {org.pk}
    # An email, mobile or externalId identifier becomes the customer's own.
    assert customer.phone == "+919804542631"


def test_identifier_in_another_source_adds_a_source_account(org):
    first = register(org, source_accounts=[account("INSTORE", email="tom@example.com")])
    second = register(
        org, source_accounts=[account("LINE", "2001914141242", email="Tom@example.com", line="U1")]
    )
    assert not second.created
    assert second.customer.pk == first.customer.pk
    assert [w.code for w in second.warnings] == ["source_account_added"]
    assert Customer.objects.count() == 1
    assert set(SourceAccount.objects.values_list("source", "account_id")) == {
        ("INSTORE", ""),
        ("LINE", "2001914141242"),
    }


def test_identifier_matching_a_customers_own_email_attaches_to_that_customer(org):
    existing = register(org, email="bob@example.com").customer
    result = register(org, source_accounts=[account("WECHAT", "wx1", email="bob@example.com")])
    assert not result.created
    assert result.customer.pk == existing.pk


def test_same_identifier_in_the_same_source_account_is_refused(org):
    register(org, source_accounts=[account("INSTORE", mobile="8795779625")])
    refused(
        org,
        ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
        "source_accounts[0].identifiers[0]",
        source_accounts=[account("INSTORE", mobile="+91 87957 79625")],
    )
    assert Identifier.objects.count() == 1


def test_same_identifier_twice_in_one_request_is_refused(org):
    refused(
        org,
        ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
        "source_accounts[0].identifiers[1]",
        source_accounts=[
            SourceAccountInput(
                source="INSTORE",
                identifiers=[
                    IdentifierInput(type="email", value="a@example.com"),
                    IdentifierInput(type="email", value="A@example.com"),
                ],
            )
        ],
    )


def test_unknown_source_is_refused(org):
    refused(
        org,
        ErrorCode.SOURCE_INVALID,
        "source_accounts[0].source",
        source_accounts=[account("MYSPACE", email="a@example.com")],
    )


def test_unknown_identifier_type_is_refused(org):
    refused(
        org,
        ErrorCode.IDENTIFIER_TYPE_INVALID,
        "source_accounts[0].identifiers[0].type",
        source_accounts=[account("INSTORE", fax="123")],
    )


def test_identifiers_of_two_customers_cannot_be_registered_together(org):
    register(org, source_accounts=[account("INSTORE", email="a@example.com")])
    register(org, source_accounts=[account("INSTORE", email="b@example.com")])
    refused(
        org,
        ErrorCode.IDENTIFIERS_CONFLICT,
        "source_accounts",
        source_accounts=[
            account("LINE", "l1", email="a@example.com"),
            account("WECHAT", "w1", email="b@example.com"),
        ],
    )


def test_another_organizations_identifiers_are_not_matched(org, other_org):
    register(other_org, source_accounts=[account("INSTORE", email="a@example.com")])
    assert register(org, source_accounts=[account("INSTORE", email="a@example.com")]).created


def test_channels_are_normalised_and_flagged(org):
    customer = register(
        org,
        channels=[
            ChannelInput(type="mobile", value="8795779625", primary=True, verified=True),
            ChannelInput(type="email", value="A@Example.com", primary=True, subscribed=False),
            ChannelInput(type="mobilePush", value="abc123456", residence=True),
        ],
    ).customer
    channels = {c.type: c for c in customer.channels.all()}
    assert channels["mobile"].value == "+918795779625"
    assert channels["mobile"].primary
    assert channels["mobile"].verified
    assert channels["email"].value == "a@example.com"
    assert not channels["email"].subscribed
    assert channels["mobilePush"].residence


def test_two_primary_channels_of_one_type_are_refused(org):
    refused(
        org,
        ErrorCode.INVALID,
        "channels[1].primary",
        channels=[
            ChannelInput(type="email", value="a@example.com", primary=True),
            ChannelInput(type="email", value="b@example.com", primary=True),
        ],
    )


def test_unknown_channel_type_is_refused(org):
    refused(
        org,
        ErrorCode.CHANNEL_TYPE_INVALID,
        "channels[0].type",
        channels=[ChannelInput(type="pager", value="1")],
    )


def test_extended_fields_are_checked_and_stored_in_canonical_form(org):
    customer = register(
        org,
        first_name="Ann",
        extended_fields={"gender": "male", "dob": "1988/05/10", "city": "Bangalore", "zip": 123456},
    ).customer
    assert customer.extended_fields == {
        "gender": "Male",
        "dob": "1988-05-10",
        "city": "Bangalore",
        "zip": "123456",
    }


def test_unknown_extended_field_names_the_field(org):
    refused(
        org,
        ErrorCode.EXTENDED_FIELD_UNKNOWN,
        "extended_fields.shoe_size",
        extended_fields={"shoe_size": "42"},
    )


def test_extended_field_of_the_wrong_type_names_the_field(org):
    ExtendedFieldDefinition.objects.create(organization=org, name="visits", data_type="integer")
    refused(
        org,
        ErrorCode.EXTENDED_FIELD_TYPE,
        "extended_fields.visits",
        extended_fields={"visits": "many"},
    )
    customer = register(org, first_name="Ann", extended_fields={"visits": "12"}).customer
    assert customer.extended_fields == {"visits": 12}


def test_extended_field_outside_its_enum_names_the_field(org):
    refused(
        org,
        ErrorCode.EXTENDED_FIELD_ENUM,
        "extended_fields.gender",
        extended_fields={"gender": "Robot"},
    )


def test_an_organizations_definition_takes_precedence_over_the_global_one(org, other_org):
    ExtendedFieldDefinition.objects.create(
        organization=org, name="gender", data_type="enum", allowed_values=["M", "F", "X"]
    )
    customer = register(org, first_name="Ann", extended_fields={"gender": "x"}).customer
    assert customer.extended_fields == {"gender": "X"}
    refused(
        other_org,
        ErrorCode.EXTENDED_FIELD_ENUM,
        "extended_fields.gender",
        extended_fields={"gender": "X"},
    )


def test_another_organizations_definitions_do_not_apply(org, other_org):
    ExtendedFieldDefinition.objects.create(
        organization=other_org, name="visits", data_type="integer"
    )
    refused(
        org,
        ErrorCode.EXTENDED_FIELD_UNKNOWN,
        "extended_fields.visits",
        extended_fields={"visits": 1},
    )


def test_enrolment_at_registration_sets_tier_and_awards_points(org):
    program = ProgramFactory(organization=org)
    TierFactory(program=program, number=1)
    gold = TierFactory(program=program, number=2)
    expiry = dt.datetime(2025, 2, 11, 16, 36, 17, tzinfo=dt.timezone(dt.timedelta(hours=5.5)))
    result = register(
        org,
        first_name="Ann",
        enrollments=[
            EnrollmentInput(
                program_id=program.pk,
                tier_number=2,
                points=75,
                tier_expires_at=expiry,
                points_expire_at=expiry,
            )
        ],
    )
    enrollment = result.customer.enrollments.get()
    assert (enrollment.tier, enrollment.tier_expires_at, enrollment.points_balance) == (
        gold,
        expiry,
        75,
    )
    [row] = PointsTransaction.objects.filter(enrollment=enrollment)
    assert (row.points, row.expires_at) == (75, expiry)
    assert result.side_effects == [
        PointsAwarded(
            customer_id=result.customer.public_id,
            program_id=program.pk,
            points=75,
            reason="Points at enrolment",
        ),
    ]


def test_enrolment_in_another_organizations_programme_is_refused(org, other_org):
    program = ProgramFactory(organization=other_org)
    refused(
        org,
        ErrorCode.PROGRAM_UNKNOWN,
        "enrollments[0].program_id",
        enrollments=[EnrollmentInput(program_id=program.pk)],
    )


def test_unknown_tier_leaves_nothing_behind(org):
    program = ProgramFactory(organization=org)
    refused(
        org,
        ErrorCode.TIER_UNKNOWN,
        "enrollments[0].tier_number",
        email="a@example.com",
        source_accounts=[account("INSTORE", email="a@example.com")],
        enrollments=[EnrollmentInput(program_id=program.pk, tier_number=9, points=10)],
    )
    assert not Identifier.objects.exists()
    assert not PointsTransaction.objects.exists()


def test_stamp_card_at_registration_gives_welcome_stamps(org):
    stamp_card = StampCardFactory(organization=org, initial_stamps=2)
    result = register(org, first_name="Ann", stamp_card_ids=[stamp_card.pk])
    card = result.customer.cards.get()
    assert card.stamps == 2
    assert list(StampTransaction.objects.values_list("kind", "stamps")) == [("add", 2)]
    assert result.side_effects == [StampsAdded(card_code=card.code, stamps=2, total=2)]


def test_referral_code_links_referrer(org):
    referrer = CustomerFactory(organization=org)
    customer = register(
        org, first_name="Ann", referral_code=referrer.referral_code.lower()
    ).customer
    assert customer.referred_by == referrer


def test_unknown_referral_code_is_refused(org):
    refused(org, ErrorCode.REFERRAL_CODE_UNKNOWN, "referral_code", referral_code="NOPE")


def test_registering_store_by_code(org, other_org):
    store = StoreFactory(organization=org, code="bukl.till")
    StoreFactory(organization=other_org, code="other.till")
    customer = register(org, first_name="Ann", store_code="bukl.till").customer
    assert customer.registered_store == store
    refused(org, ErrorCode.STORE_UNKNOWN, "store_code", store_code="other.till")


@pytest.mark.parametrize("phone", ["98765abcde", "+1 800 FLOWERS", "+1 933 222 3333 ext. 4"])
def test_a_phone_with_letters_is_refused(org, phone):
    # phonenumbers reads letters as the keypad's digits: "98765abcde" would be +919876522233.
    error = refused(org, ErrorCode.PHONE_INVALID, "phone", phone=phone)
    assert "letters" in error.message
