"""Leal's parameters (a JSON body or form fields) as the services' inputs."""

import re
from typing import Any

from crm.errors import DomainError, ErrorCode
from crm.parsing import MAX_BIGINT, parse_date, parse_integer
from customers.inputs import CustomerInput

DEFAULT_ITEMS = 20
MAX_ITEMS = 100
MAX_PAGE = MAX_BIGINT // MAX_ITEMS  # the page's offset is a 64-bit integer in SQL
PROFILE = ("first_name", "last_name", "email", "phone", "birthday")


def invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field=field)


def body_params(data):
    """The request's parameters: a JSON object or form fields."""
    if not hasattr(data, "get"):
        raise invalid("base", "the body must be a JSON object or form fields")
    return data


def customer_params(data) -> dict[str, Any]:
    """The `customer` hash, sent as a JSON object or as `customer[name]` form fields."""
    nested = data.get("customer")
    if isinstance(nested, dict):
        return nested
    if nested is not None:
        raise invalid("customer", "must be a Hash")
    params: dict[str, Any] = {}
    for key in data:
        match = re.fullmatch(r"customer\[(\w+)\](.*)", key)
        if match is None:
            continue
        name, rest = match[1], match[2]
        if not rest:
            params[name] = data.get(key)
        elif member := re.fullmatch(r"\[(\w+)\]", rest):  # customer[metadata][tier]
            if not isinstance(params.get(name), dict):
                params[name] = {}
            params[name][member[1]] = data.get(key)
        else:  # deeper, e.g. customer[external_references][][source]: taken as a list
            params[name] = [data.get(key)]
    return params


class QueryRefused(Exception):
    """A query parameter the endpoint does not take, or one that needs another: a 400 naming it,
    never a list that silently ignores it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def check_query(params, accepted: frozenset[str], *, together: tuple[str, ...] = ()) -> None:
    """Every parameter is one of `accepted`; of the `together` ones, all or none are given."""
    for name in params:
        if name not in accepted:
            raise QueryRefused(name, "is not a parameter of this endpoint")
    given = [name for name in together if params.get(name, "").strip()]
    for name in together:
        if given and name not in given:
            raise QueryRefused(name, f"is required with {' and '.join(given)}")


def customer_input(params: dict[str, Any]) -> CustomerInput:
    """What the sent attributes set; those not sent stay UNSET (not changed).

    `metadata` is merged into the custom fields. `external_references` name systems by a slug
    of their own, which no identifier source of the CRM stands for: they are refused, not
    dropped."""
    data = CustomerInput()
    if params.get("external_references"):
        raise invalid(
            "external_references", "are not supported: look customers up by id, email or phone"
        )
    if params.get("metadata") is not None:
        if not isinstance(params["metadata"], dict):
            raise invalid("metadata", "must be a Hash")
        data.custom_fields = params["metadata"]
    for name in PROFILE:
        if name not in params:
            continue
        value = params[name]
        if value is not None and not isinstance(value, str):
            raise invalid(name, "must be a String")
        value = (value or "").strip()
        if name == "birthday":
            data.birthday = parse_date(value, field=name) if value else None
        elif name in ("email", "phone"):
            setattr(data, name, value or None)
        else:
            setattr(data, name, value)
    return data


def require_name_and_contact(first_name: Any, email: Any, phone: Any) -> None:
    if not first_name:
        raise DomainError(ErrorCode.REQUIRED, "can't be blank", field="first_name")
    if not email and not phone:
        raise DomainError(ErrorCode.REQUIRED, "email or phone is required", field="email")


def page_params(params) -> tuple[int, int]:
    """The page (from 1) and the items per page a list asks for."""
    page = parse_integer(params.get("page") or 1, field="page", minimum=1, maximum=MAX_PAGE)
    items = parse_integer(
        params.get("items") or DEFAULT_ITEMS, field="items", minimum=1, maximum=MAX_ITEMS
    )
    return page, items
