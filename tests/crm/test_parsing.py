"""The one reading of each kind of value, shared by every door."""

import datetime as dt

import pytest

from crm.errors import DomainError, ErrorCode
from crm.parsing import (
    MAX_BIGINT,
    in_utc,
    parse_boolean,
    parse_date,
    parse_datetime,
    parse_id,
    parse_integer,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [(7, 7), ("7", 7), (" 42 ", 42), ("-3", -3), ("+3", 3), (str(MAX_BIGINT), MAX_BIGINT)],
)
def test_whole_numbers_in_ascii_digits_are_read(given, expected):
    assert parse_integer(given, field="n") == expected


@pytest.mark.parametrize(
    "given",
    ["²", "٣", "3²", str(2**63), str(2**64), str(-(2**64)), "9" * 5000, "1.5", "", True, 1.0, None],
)
def test_anything_else_is_invalid_naming_the_field(given):
    with pytest.raises(DomainError) as refused:
        parse_integer(given, field="stamps")

    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID, "stamps")


def test_a_5000_digit_number_is_refused_without_reading_it():
    # int() itself raises ValueError beyond 4,300 digits; this is refused before that.
    with pytest.raises(DomainError):
        parse_integer("1" * 100_000, field="page")


def test_bounds_are_the_callers():
    assert parse_integer("100", field="items", minimum=1, maximum=100) == 100
    with pytest.raises(DomainError, match="from 1 to 100"):
        parse_integer("101", field="items", minimum=1, maximum=100)


@pytest.mark.parametrize("given", ["0", "-1", "٣", str(2**63)])
def test_ids_start_at_one_and_fit_64_bits(given):
    with pytest.raises(DomainError):
        parse_id(given, field="id")


@pytest.mark.parametrize(
    ("given", "expected"),
    [(True, True), (0, False), ("TRUE", True), (" yes", True), ("n", False), ("0", False)],
)
def test_one_set_of_boolean_words(given, expected):
    assert parse_boolean(given, field="flag") is expected


@pytest.mark.parametrize("given", ["maybe", 2, "", None, "²"])
def test_other_booleans_are_invalid(given):
    with pytest.raises(DomainError) as refused:
        parse_boolean(given, field="use_async")

    assert refused.value.field == "use_async"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("2020-02-29", dt.date(2020, 2, 29)), ("1988/05/10", dt.date(1988, 5, 10))],
)
def test_dates_that_exist_are_read(given, expected):
    assert parse_date(given, field="birthday") == expected


@pytest.mark.parametrize(
    "given",
    [
        "2020-02-31",
        "0000-01-01",
        "2021-02-29",
        "\u0662\u0660\u0662\u0660-\u0660\u0661-\u0660\u0661",  # 2020-01-01 in Arabic-Indic digits
        "2020-01/01",
        "x",
        20200101,
    ],
)
def test_impossible_or_unreadable_dates_are_invalid(given):
    with pytest.raises(DomainError) as refused:
        parse_date(given, field="birthday")

    assert refused.value.field == "birthday"


def test_date_times_keep_their_zone_and_need_one():
    moment = parse_datetime("2024-05-11T16:36:17+05:30", field="at")

    assert moment.utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert in_utc(moment, "at") == dt.datetime(2024, 5, 11, 11, 6, 17, tzinfo=dt.UTC)
    assert parse_datetime("2024-05-11", field="at", naive_is_utc=True).tzinfo == dt.UTC
    with pytest.raises(DomainError):
        parse_datetime("2024-05-11T16:36:17", field="at")


@pytest.mark.parametrize(
    "given", ["2020-02-31T10:00:00+00:00", "0000-01-01T00:00:00Z", "٢٠٢٠-01-01T00:00:00Z", 5]
)
def test_impossible_date_times_are_invalid(given):
    with pytest.raises(DomainError) as refused:
        parse_datetime(given, field="tierExpiryDate")

    assert refused.value.field == "tierExpiryDate"
