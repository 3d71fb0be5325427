"""Voucherify's customer object and list parameters as the services' and queries' inputs."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crm.errors import DomainError, ErrorCode
from crm.parsing import MAX_BIGINT, in_utc, parse_date, parse_datetime, parse_integer
from customers.compat.querystring import query_email
from customers.inputs import CustomerInput

MAX_LIMIT = 100
MAX_PAGE = MAX_BIGINT // MAX_LIMIT  # the page's offset is a 64-bit integer in SQL
DEFAULT_LIMIT = 10
LIST_PARAMETERS = (
    "limit",
    "page",
    "email",
    "city",
    "name",
    "created_at[before]",
    "created_at[after]",
    "updated_at[before]",
    "updated_at[after]",
    "order",
    "starting_after",
)
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


def _text(values: dict, name: str, field: str | None = None) -> str | None:
    value = values.get(name)
    if value is not None and not isinstance(value, str):
        raise DomainError(ErrorCode.INVALID, "Expected a string.", field=field or name)
    return value


def customer_input(body: Any) -> CustomerInput:
    """What a customer object sets. A field not sent, or sent as null, is not changed: Voucherify's
    reference leaves "parameters not provided" unchanged and declares only `address` nullable
    (null clears it); its Python client sends null for every field a model built with
    `from_dict` lacks. An empty string clears a field."""
    if not isinstance(body, dict):
        raise DomainError(ErrorCode.INVALID, "Send a customer object.", field="")
    data = CustomerInput()
    name = _text(body, "name")
    if name is not None:
        first, _, last = name.strip().partition(" ")
        data.first_name, data.last_name = first[:100], last.strip()[:100]
    source_id = _text(body, "source_id")
    if source_id is not None:
        data.external_id = source_id or None
    for theirs, ours in (("email", "email"), ("phone", "phone")):
        value = _text(body, theirs)
        if value is not None:
            setattr(data, ours, value or None)
    description = _text(body, "description")
    if description is not None:
        data.description = description
    field = "birthdate" if body.get("birthdate") is not None else "birthday"
    if body.get(field) is not None:
        data.birthday = None if body[field] == "" else parse_date(body[field], field=field)
    if "address" in body:
        address = body["address"]
        if address is not None and not isinstance(address, dict):
            raise DomainError(ErrorCode.INVALID, "Expected an object.", field="address")
        for theirs, ours in ADDRESS_FIELDS.items():
            value = "" if address is None else _text(address, theirs, f"address.{theirs}")
            if value is not None:
                setattr(data, ours, value)
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise DomainError(ErrorCode.INVALID, "Expected an object.", field="metadata")
        data.custom_fields = metadata
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


def _refuse_unsupported(params) -> None:
    """A filter the list cannot apply is refused by name: answering every customer instead would
    look like the filtered list."""
    for name in params:
        if name == "segment_id":
            raise DomainError(
                ErrorCode.INVALID,
                "Lists cannot be filtered by segment: the CRM keeps no segments.",
                field=name,
            )
        if name not in LIST_PARAMETERS:
            raise DomainError(
                ErrorCode.INVALID,
                f"{name!r} is not a list parameter of this API; it reads "
                f"{', '.join(LIST_PARAMETERS)}.",
                field=name,
            )


def list_query(params) -> ListQuery:
    _refuse_unsupported(params)
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
        email=query_email(params["email"]).lower() if params.get("email") else None,
        city=params.get("city") or None,
        name=params["name"].strip() if params.get("name") else None,
        bounds=bounds,
        starting_after=starting_after,
        order=order.replace("source_id", "external_id"),
    )
