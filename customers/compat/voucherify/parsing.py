"""Voucherify's customer object and list parameters as the services' and queries' inputs."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crm.errors import DomainError, ErrorCode
from crm.parsing import MAX_BIGINT, in_utc, parse_date, parse_datetime, parse_integer
from customers.inputs import UNSET, CustomerInput

MAX_LIMIT = 100
MAX_PAGE = MAX_BIGINT // MAX_LIMIT  # the page's offset is a 64-bit integer in SQL
DEFAULT_LIMIT = 10
ORDERS = {"created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id"}
ADDRESS_FIELDS = {
    "line_1": "address_line1",
    "line_2": "address_line2",
    "city": "city",
    "state": "state",
    "postal_code": "postal_code",
    "country": "country",
}
FIELD_NAMES = {
    "external_id": "source_id",
    "birthday": "birthdate",
    "custom_fields": "metadata",
    "first_name": "name",
    "last_name": "name",
    **{ours: f"address.{theirs}" for theirs, ours in ADDRESS_FIELDS.items()},
}


def _text(body: dict, name: str) -> str | None:
    value = body[name]
    if value is not None and not isinstance(value, str):
        raise DomainError(ErrorCode.INVALID, "Expected a string.", field=name)
    return value


def customer_input(body: Any) -> CustomerInput:
    if not isinstance(body, dict):
        raise DomainError(ErrorCode.INVALID, "Send a customer object.", field="")
    data = CustomerInput()
    if "name" in body:
        name = (_text(body, "name") or "").strip()
        first, _, last = name.partition(" ")
        data.first_name, data.last_name = first[:100], last.strip()[:100]
    if "source_id" in body:
        data.external_id = _text(body, "source_id") or None
    for theirs, ours in (("email", "email"), ("phone", "phone")):
        if theirs in body:
            setattr(data, ours, _text(body, theirs) or None)
    if "description" in body:
        data.description = _text(body, "description") or ""
    birthdate = body.get("birthdate", body.get("birthday", UNSET))
    if birthdate is not UNSET:
        field = "birthdate" if "birthdate" in body else "birthday"
        data.birthday = None if birthdate is None else parse_date(birthdate, field=field)
    if "address" in body:
        address = body["address"] or {}
        if not isinstance(address, dict):
            raise DomainError(ErrorCode.INVALID, "Expected an object.", field="address")
        for theirs, ours in ADDRESS_FIELDS.items():
            if theirs in address or body["address"] is None:
                value = address.get(theirs)
                if value is not None and not isinstance(value, str):
                    raise DomainError(
                        ErrorCode.INVALID, "Expected a string.", field=f"address.{theirs}"
                    )
                setattr(data, ours, value or "")
    if "metadata" in body:
        metadata = body["metadata"]
        if metadata is not None and not isinstance(metadata, dict):
            raise DomainError(ErrorCode.INVALID, "Expected an object.", field="metadata")
        data.custom_fields = metadata or {}
    return data


@dataclass
class ListQuery:
    """What a customer list asks for, in our columns; the bounds are (column, lookup, moment).

    A filter not asked for is None."""

    limit: int
    page: int
    email: str | None
    city: str | None
    name: str | None
    bounds: list[tuple[str, str, dt.datetime]]
    starting_after: dt.datetime | None
    order: str


def _number(params, name: str, default: int, maximum: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    return parse_integer(value, field=name, minimum=1, maximum=maximum)


def _moment(params, name: str) -> dt.datetime:
    """An ISO 8601 date-time, or a date (its midnight); UTC unless it names its zone."""
    return in_utc(parse_datetime(params[name], field=name, naive_is_utc=True), name)


def list_query(params) -> ListQuery:
    limit = _number(params, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    page = _number(params, "page", 1, MAX_PAGE)
    bounds = [
        (name, lookup, _moment(params, f"{name}[{bound}]"))
        for name in ("created_at", "updated_at")
        for bound, lookup in (("before", "lt"), ("after", "gt"))
        if params.get(f"{name}[{bound}]")
    ]
    starting_after = _moment(params, "starting_after") if params.get("starting_after") else None
    order = params.get("order") or "-created_at"
    if order not in ORDERS:
        raise DomainError(
            ErrorCode.INVALID, f"order is one of {', '.join(sorted(ORDERS))}.", field="order"
        )
    return ListQuery(
        limit=limit,
        page=page,
        email=params["email"].strip().lower() if params.get("email") else None,
        city=params.get("city") or None,
        name=params["name"].strip() if params.get("name") else None,
        bounds=bounds,
        starting_after=starting_after,
        order=order.replace("source_id", "external_id"),
    )
