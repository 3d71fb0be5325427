"""Whatever a door hands the services, the answer is a result or a DomainError, never a crash."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.errors import DomainError
from customers.choices import ChannelType, CustomerStatus, IdentifierType, Source
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from customers.membership.registration import customer_register
from customers.membership.upsert import customer_upsert
from loyalty.models import Program
from loyalty.tiers import Tier

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def mostly(valid):
    """Nearly always a valid value, so that calls get deep into the services; now and then junk."""
    return st.integers(0, 29).flatmap(lambda n: junk if n == 0 else valid)


emails = st.sampled_from(["a@example.com", "A@Example.com", "b@example.com", "c@example.com"])
phones = st.sampled_from(["+919804542631", "8795779625", "4567890", "+1 933 222 3333"])
texts = st.text(max_size=30)
identifiers = st.builds(
    IdentifierInput,
    type=mostly(st.sampled_from(IdentifierType.values)),
    value=mostly(emails | phones | texts),
    series_id=mostly(st.none() | st.integers(min_value=0)),
    status_label=mostly(st.sampled_from(["", "ACTIVE"])),
    extended_fields=mostly(st.just({})),
)
accounts = st.builds(
    SourceAccountInput,
    source=mostly(st.sampled_from(Source.values)),
    account_id=mostly(st.sampled_from(["", "acc-1"])),
    first_name=mostly(texts),
    last_name=mostly(texts),
    custom_fields=mostly(st.dictionaries(st.text(max_size=8), texts, max_size=2)),
    identifiers=st.lists(identifiers, max_size=3),
)
channels = st.builds(
    ChannelInput,
    type=mostly(st.sampled_from(ChannelType.values)),
    value=mostly(emails | phones | texts),
    primary=mostly(st.booleans()),
    verified=mostly(st.booleans()),
    subscribed=mostly(st.booleans()),
    last_viewed_at=mostly(st.none() | st.datetimes() | st.datetimes(timezones=st.timezones())),
)
THE_PROGRAMME = "the programme's id"
enrollments = st.builds(
    EnrollmentInput,
    program_id=mostly(st.just(THE_PROGRAMME)),
    tier_number=mostly(st.none() | st.integers(min_value=-1, max_value=3)),
    points=mostly(st.integers(min_value=-5, max_value=10**6)),
    tier_expires_at=mostly(st.none() | st.datetimes() | st.datetimes(timezones=st.timezones())),
    points_expire_at=mostly(st.none() | st.datetimes(timezones=st.timezones())),
)
customer_inputs = st.builds(
    CustomerInput,
    first_name=mostly(texts),
    last_name=mostly(texts),
    email=mostly(st.none() | emails),
    email_verified=mostly(st.booleans()),
    phone=mostly(st.none() | phones),
    birthday=mostly(st.none() | st.dates()),
    city=mostly(texts),
    description=mostly(texts),
    external_id=mostly(st.none() | st.sampled_from(["E1", "E2", " "])),
    loyalty_type=mostly(st.sampled_from(["loyalty", "non_loyalty"])),
    status=mostly(st.sampled_from(CustomerStatus.values)),
    status_label=mostly(st.none()),
    store_code=mostly(st.none()),
    custom_fields=mostly(st.dictionaries(st.text(max_size=8), junk, max_size=3)),
    extended_fields=mostly(
        st.sampled_from([{}, {"gender": "male"}, {"dob": "1988/05/10"}, {"zip": 123}])
    ),
    referral_code=mostly(st.just("")),
    source_accounts=st.lists(accounts, max_size=2),
    channels=st.lists(channels, max_size=2),
    enrollments=st.lists(enrollments, max_size=1),
    stamp_card_ids=st.lists(junk, max_size=1).filter(lambda ids: not ids)
    | st.lists(junk, max_size=1),
)


@pytest.mark.django_db
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=customer_inputs)
def test_any_input_is_answered_with_a_result_or_a_domain_error(org, data):
    program, _ = Program.objects.get_or_create(organization=org, name="Rewards")
    Tier.objects.get_or_create(program=program, number=1, defaults={"name": "Base"})
    for enrollment in data.enrollments:
        if enrollment.program_id == THE_PROGRAMME:
            enrollment.program_id = program.pk
    for call in (customer_register, customer_upsert):
        try:
            call(organization=org, data=data)
        except DomainError as error:
            answered = error
        else:
            answered = None
        assert answered is None or (answered.code and answered.message)
