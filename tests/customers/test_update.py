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
from customers.membership.update import customer_update
from customers.membership.upsert import customer_upsert
from customers.models import Customer
from customers.services.update import customer_delete
from loyalty.models import Enrollment, PointsTransaction
from tests.customers.factories import CustomerFactory, StatusLabelFactory
from tests.loyalty.factories import ProgramFactory

pytestmark = pytest.mark.django_db


def update(customer, **fields):
    return customer_update(customer=customer, data=CustomerInput(**fields))


def refused_update(customer, code, field, **fields):
    before = Customer.objects.values().get(pk=customer.pk)
    with pytest.raises(DomainError) as caught:
        update(customer, **fields)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert Customer.objects.values().get(pk=customer.pk) == before


def test_only_the_fields_given_change(org):
    customer = CustomerFactory(organization=org, first_name="Ann", last_name="Lee", city="Pune")
    result = update(customer, first_name="Anne", city="Pune")
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.city) == ("Anne", "Lee", "Pune")
    assert result.changed == ["first_name"]


def test_an_update_that_changes_nothing_reports_nothing(org):
    customer = CustomerFactory(organization=org, first_name="Ann")
    assert update(customer, first_name="Ann").changed == []


def test_email_and_phone_are_normalised_and_stay_unique(org):
    CustomerFactory(organization=org, email="taken@example.com", phone="+918795779625")
    customer = CustomerFactory(organization=org)
    update(customer, email="New@Example.com", phone="98045 42631")
    customer.refresh_from_db()
    assert (customer.email, customer.phone) == ("new@example.com", "+919804542631")
    refused_update(customer, ErrorCode.EMAIL_TAKEN, "email", email="TAKEN@example.com")
    refused_update(customer, ErrorCode.PHONE_TAKEN, "phone", phone="8795779625")


def test_keeping_ones_own_email_is_not_a_conflict(org):
    customer = CustomerFactory(organization=org, email="me@example.com")
    assert update(customer, email="ME@example.com").changed == []


def test_loyalty_customer_cannot_become_non_loyalty(org):
    customer = CustomerFactory(organization=org, loyalty_type="loyalty")
    refused_update(
        customer, ErrorCode.LOYALTY_TYPE_DOWNGRADE, "loyalty_type", loyalty_type="non_loyalty"
    )


def test_non_loyalty_customer_can_become_loyalty(org):
    customer = CustomerFactory(organization=org, loyalty_type="non_loyalty")
    update(customer, loyalty_type="loyalty")
    customer.refresh_from_db()
    assert customer.loyalty_type == "loyalty"


def test_custom_fields_are_merged_and_none_removes_a_key(org):
    customer = CustomerFactory(organization=org, custom_fields={"employee": "true", "fax": "1"})
    update(customer, custom_fields={"fax": None, "kanjifirstname": "トム"})
    customer.refresh_from_db()
    assert customer.custom_fields == {"employee": "true", "kanjifirstname": "トム"}


def test_extended_fields_are_validated_on_update(org):
    customer = CustomerFactory(organization=org, extended_fields={"city": "Pune"})
    refused_update(
        customer,
        ErrorCode.EXTENDED_FIELD_ENUM,
        "extended_fields.gender",
        extended_fields={"gender": "?"},
    )
    update(customer, extended_fields={"gender": "female"})
    customer.refresh_from_db()
    assert customer.extended_fields == {"city": "Pune", "gender": "Female"}


def test_status_label_changes_status(org):
    label = StatusLabelFactory(organization=org, name="Blocked", status="suspended")
    customer = CustomerFactory(organization=org)
    update(customer, status_label="blocked")
    customer.refresh_from_db()
    assert (customer.status, customer.status_label) == ("suspended", label)


def test_identifiers_and_sources_cannot_change_by_update(org):
    customer = CustomerFactory(organization=org)
    refused_update(
        customer,
        ErrorCode.IDENTIFIER_IMMUTABLE,
        "source_accounts",
        source_accounts=[SourceAccountInput(source="LINE")],
    )


def test_enrolling_twice_is_refused(org):
    program = ProgramFactory(organization=org)
    customer = CustomerFactory(organization=org)
    update(customer, enrollments=[EnrollmentInput(program_id=program.pk, points=10)])
    with pytest.raises(DomainError) as caught:
        update(customer, enrollments=[EnrollmentInput(program_id=program.pk, points=10)])
    assert (caught.value.code, caught.value.field) == (
        ErrorCode.ALREADY_ENROLLED,
        "enrollments[0].program",
    )
    assert Enrollment.objects.get().points_balance == 10
    assert PointsTransaction.objects.count() == 1


def test_channels_in_an_update_are_added_or_changed(org):
    customer = customer_register(
        organization=org,
        data=CustomerInput(
            channels=[ChannelInput(type="email", value="a@example.com", primary=True)]
        ),
    ).customer
    result = update(
        customer,
        channels=[
            ChannelInput(type="email", value="a@example.com", primary=True, verified=True),
            ChannelInput(type="email", value="b@example.com"),
        ],
    )
    assert result.changed == ["channels", "channels"]
    assert set(customer.channels.values_list("value", "verified", "primary")) == {
        ("a@example.com", True, True),
        ("b@example.com", False, False),
    }


def test_delete_removes_everything_of_the_customer(org):
    program = ProgramFactory(organization=org)
    customer = customer_register(
        organization=org,
        data=CustomerInput(
            source_accounts=[
                SourceAccountInput(
                    source="INSTORE", identifiers=[IdentifierInput(type="email", value="a@b.co")]
                )
            ],
            enrollments=[EnrollmentInput(program_id=program.pk, points=5)],
        ),
    ).customer
    customer_delete(customer=customer)
    assert not Customer.objects.exists()
    assert not Enrollment.objects.exists()
    assert not PointsTransaction.objects.exists()


# --- upsert ------------------------------------------------------------------------------------


def upsert(org, match_by=None, **fields):
    return customer_upsert(organization=org, data=CustomerInput(**fields), match_by=match_by)


def test_upsert_creates_then_updates_without_duplicates(org):
    first = upsert(org, email="ann@example.com", first_name="Ann", external_id="E1")
    again = upsert(org, email="ann@example.com", first_name="Ann", external_id="E1")
    changed = upsert(org, email="ANN@example.com", first_name="Anne")
    assert (first.created, again.created, changed.created) == (True, False, False)
    assert again.changed == []
    assert changed.changed == ["first_name"]
    assert Customer.objects.get().first_name == "Anne"


def test_upsert_matches_by_external_id(org):
    customer = CustomerFactory(organization=org, external_id="E1", email="old@example.com")
    result = upsert(org, external_id="E1", email="new@example.com")
    customer.refresh_from_db()
    assert result.customer.pk == customer.pk
    assert customer.email == "new@example.com"


def test_upsert_can_look_up_by_one_email_and_set_another(org):
    customer = CustomerFactory(organization=org, email="old@example.com")
    upsert(org, match_by={"email": "OLD@example.com"}, email="new@example.com")
    customer.refresh_from_db()
    assert customer.email == "new@example.com"
    assert Customer.objects.count() == 1


def test_upsert_matches_by_phone_too(org):
    customer = CustomerFactory(
        organization=org, first_name="Zed", phone="+919804542631", email="a@example.com"
    )

    result = upsert(org, phone="98045 42631", first_name="Ann")

    assert result.customer.pk == customer.pk
    assert result.changed == ["first_name"]
    assert Customer.objects.count() == 1


def test_upsert_by_a_vendor_key_alone_does_not_match_by_phone(org):
    CustomerFactory(organization=org, phone="+919804542631", external_id="E1")

    with pytest.raises(DomainError) as refused:
        upsert(org, match_by={"external_id": "E2"}, external_id="E2", phone="9804542631")

    assert (refused.value.code, refused.value.field) == ("phone_taken", "phone")


def test_upsert_matching_two_customers_is_refused(org):
    CustomerFactory(organization=org, email="a@example.com")
    CustomerFactory(organization=org, external_id="E2")
    with pytest.raises(DomainError) as caught:
        upsert(org, email="a@example.com", external_id="E2")
    assert caught.value.code == ErrorCode.IDENTIFIERS_CONFLICT


def test_upsert_adds_new_identifiers_and_keeps_existing_ones(org):
    upsert(
        org,
        email="a@example.com",
        source_accounts=[
            SourceAccountInput(
                source="INSTORE", identifiers=[IdentifierInput("email", "a@example.com")]
            )
        ],
    )
    result = upsert(
        org,
        email="a@example.com",
        source_accounts=[
            SourceAccountInput(
                source="INSTORE",
                identifiers=[
                    IdentifierInput("email", "a@example.com"),
                    IdentifierInput("cardnumber", "12345678", series_id=73, status_label="ACTIVE"),
                ],
            )
        ],
    )
    assert result.changed == ["identifiers"]
    assert set(result.customer.identifiers.values_list("type", "value", "series_id")) == {
        ("email", "a@example.com", None),
        ("cardnumber", "12345678", 73),
    }


def test_upsert_skips_programmes_already_enrolled(org):
    program = ProgramFactory(organization=org)
    for _ in range(2):
        upsert(org, email="a@example.com", enrollments=[EnrollmentInput(program.pk, points=10)])
    assert Enrollment.objects.get().points_balance == 10
