"""Malformed input at every route of every door answers a 4xx, never a 5xx.

The routes are read from the URL resolver (everything under /api/v1/ and /compat/), so a new
route is fuzzed as soon as it exists. Each is called with the methods its view answers and its
door's own authentication, and each class of malformed value is sent in turn: in every path
parameter (the others valid), in every query parameter the route reads, in every field of a
valid body, and as the body itself (NUL bytes, deep nesting, over the size limit). Every call
runs in a transaction that is rolled back, so each case starts from the same data.
"""

import base64
import copy
import json
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, resolve

from crm.actors import SYSTEM
from crm.services import api_key_create
from customers.models import ExtendedFieldDefinition
from loyalty.models import CouponSeries
from loyalty.services.coupons import coupon_issue
from loyalty.services.purchases import transaction_record
from tests.crm.factories import OrganizationFactory, StoreFactory
from tests.customers.factories import (
    ChannelFactory,
    CustomerFactory,
    IdentifierFactory,
    StatusLabelFactory,
)
from tests.loyalty.factories import (
    CustomerCardFactory,
    EarningRuleFactory,
    EnrollmentFactory,
    ProgramFactory,
    RewardFactory,
    StampCardFactory,
    TierFactory,
)

DOORS = ("api/v1/", "compat/")
METHODS = ("get", "post", "put", "patch", "delete")

# Each class of malformed value, as text (paths, query strings, JSON strings) ...
TEXTS = {
    "superscript-two": "²",  # str.isdigit() says yes, int() says no
    "arabic-indic-three": "٣",  # int() reads it as 3
    "two-to-the-64": str(2**64),
    "minus-two-to-the-64": str(-(2**64)),
    "5000-digits": "9" * 5000,  # int() refuses more than 4300 digits
    "impossible-date": "2020-02-31",
    "year-zero": "0000-01-01",
    "impossible-date-time": "2020-02-31T10:00:00+00:00",
    "year-zero-date-time": "0000-01-01T00:00:00Z",
    "nul": "a\x00b",
}
INTEGER_TEXTS = (
    "superscript-two",
    "arabic-indic-three",
    "two-to-the-64",
    "minus-two-to-the-64",
    "5000-digits",
)
DATE_TEXTS = ("impossible-date", "year-zero", "impossible-date-time", "year-zero-date-time")
# ... as JSON numbers, written into the body's text as they are ...
NUMBERS = {
    "two-to-the-64": str(2**64),
    "minus-two-to-the-64": str(-(2**64)),
    "5000-digits": "9" * 5000,
    "1e400": "1e400",
}
# ... and page positions of every door's lists.
CURSORS = {
    "garbled-cursor": "%%%not-base64",
    "forged-cursor-position": base64.b64encode(b"p=not-a-date&o=1").decode(),
    "forged-cursor-offset": base64.b64encode(b"o=" + b"9" * 30).decode(),
    "forged-cursor-reverse": base64.b64encode(b"r=2&p=2020-02-31").decode(),
    "minus-one": "-1",
    "zero": "0",
    "past-int32": str(2**31),
    "past-int64": str(2**63),
}
DEEP = "[" * 100_000 + "]" * 100_000
NUMBER_MARK = "__number__"


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # "/api/v1/customers/%(id)s/"
    params: tuple[str, ...]

    def url(self, values: dict) -> str:
        return self.template % values

    @property
    def view(self):
        return resolve(self.url(dict.fromkeys(self.params, "1"))).func

    @property
    def methods(self) -> list[str]:
        if actions := getattr(self.view, "actions", None):  # a DRF viewset's routes
            return [method for method in METHODS if method in actions]
        return [method for method in METHODS if hasattr(self.view.view_class, method)]


def door_routes() -> list[Route]:
    resolver = get_resolver()
    routes = {}
    for name in resolver.reverse_dict:
        if not isinstance(name, str):
            continue
        for possibilities, *_ in resolver.reverse_dict.getlist(name):
            for template, params in possibilities:
                # The ".json" suffix routes are the same views once more.
                if template.startswith(DOORS) and "format" not in params:
                    routes[template] = Route(name, "/" + template, tuple(params))
    return sorted(routes.values(), key=lambda route: route.template)


ROUTES = door_routes()


def credentials(path: str, key: str, org) -> dict:
    """Each door's own authentication (as tests/compat/ shows for each vendor)."""
    basic = base64.b64encode(f"till:{key}".encode()).decode()
    doors = {
        "/api/": {"HTTP_AUTHORIZATION": f"Bearer {key}"},
        "/compat/jericommerce/": {"HTTP_AUTHORIZATION": key},
        "/compat/capillary/": {"HTTP_AUTHORIZATION": f"Basic {basic}"},
        "/compat/voucherify/": {"HTTP_X_APP_ID": org.slug, "HTTP_X_APP_TOKEN": key},
        "/compat/leal/": {"HTTP_AUTHORIZATION": f"Bearer {key}"},
    }
    for prefix, headers in doors.items():
        if path.startswith(prefix):
            return headers
    raise AssertionError(f"{path}: say how this door authenticates in credentials()")


@pytest.fixture
def world(db):
    """One organization holding a row of everything the doors serve, and its API key."""
    org = OrganizationFactory(slug="fuzz", default_region="IN", api_requests_per_minute=10**6)
    store = StoreFactory(organization=org, code="main.till")
    program = ProgramFactory(organization=org)
    TierFactory(program=program, number=1)
    stamp_card = StampCardFactory(organization=org, store=store)
    reward = RewardFactory(stamp_card=stamp_card, stamp_cost=1)
    status_label = StatusLabelFactory(organization=org, name="active-1", status="active")
    customer = CustomerFactory(organization=org, registered_store=store, external_id="s1")
    identifier = IdentifierFactory(
        source_account__customer=customer, source_account__source="INSTORE"
    )
    identifier.source_account.account_id = ""
    identifier.source_account.save()
    channel = ChannelFactory(customer=customer)
    EnrollmentFactory(customer=customer, program=program)
    card = CustomerCardFactory(customer=customer, stamp_card=stamp_card, stamps=3)
    for name, data_type in [
        ("size", "integer"),
        ("since", "date"),
        ("seen", "datetime"),
        ("vip", "boolean"),
    ]:
        ExtendedFieldDefinition.objects.create(organization=org, name=name, data_type=data_type)
    field = ExtendedFieldDefinition.objects.get(organization=org, name="size")
    series = CouponSeries.objects.create(organization=org, description="Fuzz")
    coupon = coupon_issue(organization=org, series=series, customer=customer, actor=SYSTEM).coupon
    EarningRuleFactory(program=program)
    purchase = transaction_record(
        organization=org,
        customer=customer,
        store_code=None,
        external_id="P-1",
        occurred_at="2026-06-15T12:00:00Z",
        currency="EUR",
        lines=[{"sku": "A", "quantity": 2, "unit_price": "9.99"}],
        channel="INSTORE",
        actor=SYSTEM,
    ).transaction
    _, key = api_key_create(organization=org, name="Fuzz")
    return {
        "purchase": purchase,
        "org": org,
        "key": key,
        "store": store,
        "program": program,
        "stamp_card": stamp_card,
        "reward": reward,
        "customer": customer,
        "identifier": identifier,
        "channel": channel,
        "card": card,
        "field": field,
        "status_label": status_label,
        "series": series,
        "coupon": coupon,
    }


def path_values(route: Route, world: dict) -> dict:
    """Valid values for the route's path parameters."""
    by_name = {
        "store-detail": world["store"].pk,
        "program-detail": world["program"].pk,
        "program-earning-rules": world["program"].pk,
        "program-simulate": world["program"].pk,
        "stamp-card-detail": world["stamp_card"].pk,
        "extended-field-detail": world["field"].pk,
        "status-label-detail": world["status_label"].pk,
        "customer-identifier": world["identifier"].pk,
        "customer-channel": world["channel"].pk,
        "coupon-detail": world["coupon"].code,
        "coupon-redeem": world["coupon"].code,
        "transaction-detail": world["purchase"].pk,
    }
    vendor = route.template.startswith("/compat/")
    customer = world["customer"]
    common = {
        "id": customer.public_id,
        "customer_id": customer.pk if vendor else customer.public_id,
        "code": world["card"].code,
        "key": customer.external_id,
        "program_id": world["program"].pk,
        "account_id": world["store"].pk,
        "card_id": world["card"].pk,
        "transaction_id": world["purchase"].pk,
    }
    values = {}
    for param in route.params:
        values[param] = by_name[route.name] if param == "pk" else common.get(param, "1")
    return values


# The query parameters each vendor route reads (the native API's are found on its views), and
# those sent with them so that the parameter under test is reached.
VENDOR_QUERY = {
    "jericommerce-integration": ["email"],
    "capillary-customers": ["customerId", "source", "accountId", "use_async"],
    "capillary-customer": ["source", "accountId", "use_async"],
    "voucherify-customers": [
        "limit",
        "page",
        "email",
        "city",
        "name",
        "created_at[before]",
        "created_at[after]",
        "updated_at[before]",
        "updated_at[after]",
        "starting_after",
        "order",
    ],
    "leal-customers": ["page", "items", "search"],
    "leal-rewards": ["card_id", "active"],
}


def base_query(route: Route, world: dict) -> dict:
    if route.name == "capillary-customers":
        return {"customerId": world["customer"].pk, "source": "INSTORE"}
    if route.name == "capillary-customer":
        return {"source": "INSTORE"}
    if route.name == "jericommerce-integration":
        return {"email": world["customer"].email}
    return {}


def query_names(route: Route, method: str) -> list[str]:
    if route.name in VENDOR_QUERY:
        return VENDOR_QUERY[route.name]
    view_class = getattr(route.view, "cls", None)
    names = ["format"]
    if getattr(route.view, "actions", {}).get(method) != "list":
        return names  # the native API reads its filters on lists only
    filterset = getattr(view_class, "filterset_class", None)
    if filterset is not None:
        names += list(filterset.base_filters)
    if getattr(view_class, "ordering_fields", None):
        names.append("ordering")
    return names


def page_names(route: Route) -> list[str]:
    """The query parameters that choose a page of a list."""
    if route.name == "voucherify-customers":
        return ["limit", "page", "starting_after"]
    if route.name == "leal-customers":
        return ["page", "items"]
    actions = getattr(route.view, "actions", {})
    pagination = getattr(route.view.cls, "pagination_class", None)
    if pagination is None or actions.get("get") != "list":
        return []
    return [pagination.cursor_query_param, pagination.page_size_query_param]


def customer_body(world: dict) -> dict:
    return {
        "first_name": "Ana",
        "email": "ana@example.com",
        "phone": "8795779625",
        "birthday": "1990-04-01",
        "email_verified": True,
        "address": {"city": "Pune"},
        "store": world["store"].code,
        "status_label": "active-1",
        "custom_fields": {"colour": "blue"},
        "extended_fields": {"size": 3, "since": "2020-01-01", "seen": "2020-01-01T10:00:00Z"},
        "channels": [
            {
                "type": "email",
                "value": "ana@example.com",
                "primary": True,
                "meta": {"last_viewed_at": "2024-05-11T16:36:17+05:30"},
            }
        ],
        "enrollments": [
            {
                "program_id": world["program"].pk,
                "tier_number": 1,
                "points": 5,
                "tier_expires_at": "2030-01-01T00:00:00Z",
                "points_expire_at": "2030-01-01T00:00:00Z",
            }
        ],
        "stamp_card_ids": [world["stamp_card"].pk],
        "source_accounts": [
            {
                "source": "INSTORE",
                "identifiers": [
                    {"type": "cardnumber", "value": "C-1", "series_id": 1, "status_label": "A"}
                ],
            }
        ],
    }


def capillary_body(world: dict) -> dict:
    return {
        "profiles": [
            {
                "firstName": "Ana",
                "lastName": "Ruiz",
                "source": "INSTORE",
                "identifiers": [
                    {"type": "mobile", "value": "8795779625"},
                    {"type": "cardnumber", "value": "C-1", "seriesId": 1},
                ],
                "commChannels": [
                    {
                        "type": "email",
                        "value": "ana@example.com",
                        "primary": "true",
                        "meta": {"residence": False, "lastViewedDate": "2024-05-11T16:36:17Z"},
                    }
                ],
                "fields": {"colour": "blue"},
            }
        ],
        "extendedFields": {"size": "3", "since": "2020-01-01", "vip": "true"},
        "loyaltyProgramEnrollments": [
            {
                "programId": world["program"].pk,
                "tierNumber": 1,
                "loyaltyPoints": 5,
                "tierExpiryDate": "2030-01-01T00:00:00+05:30",
                "pointsExpiryDate": "2030-01-01T00:00:00+05:30",
            }
        ],
        "associatedWith": world["store"].code,
        "statusLabel": "active-1",
    }


def capillary_changes(world: dict) -> dict:
    body = capillary_body(world)
    del body["profiles"][0]["identifiers"], body["associatedWith"]
    return body


def voucherify_body(world: dict) -> dict:
    return {
        "source_id": "s2",
        "name": "Ana Ruiz",
        "email": "ana@example.com",
        "phone": "+1 933 222 3333",
        "birthdate": "1990-04-01",
        "address": {"city": "Pune", "postal_code": "411001"},
        "metadata": {"colour": "blue"},
    }


def leal_customer(world: dict) -> dict:
    return {
        "customer": {
            "first_name": "Ana",
            "email": "ana@example.com",
            "phone": "8795779625",
            "birthday": "1990-04-01",
        },
        "card_id": world["stamp_card"].pk,
        "send_card_links": False,
    }


BODIES = {
    ("customer-list", "post"): customer_body,
    ("customer-detail", "patch"): customer_body,
    ("customer-batch", "post"): lambda world: {"customers": [customer_body(world)]},
    ("transaction-batch", "post"): lambda world: {
        "transactions": [
            {
                "customer": world["customer"].public_id,
                "external_id": "P-1",
                "occurred_at": "2026-06-15T12:00:00Z",
                "currency": "EUR",
                "store": world["store"].code,
                "lines": [{"sku": "A", "quantity": 1, "unit_price": "9.99", "line_amount": "9.99"}],
            },
            {
                "identifier": {"type": "cardnumber", "value": "C-1"},
                "external_id": "P-2",
                "occurred_at": "2026-06-15T12:00:00Z",
                "currency": "EUR",
                "lines": [{"sku": "B", "category": "shoes", "quantity": 2, "unit_price": "1.00"}],
            },
        ]
    },
    ("customer-identifiers", "post"): lambda world: {
        "source": "INSTORE",
        "type": "cardnumber",
        "value": "C-2",
        "series_id": 1,
        "extended_fields": {"a": 1},
    },
    ("customer-identifier", "patch"): lambda world: {"value": "C-3", "series_id": 2},
    ("customer-channels", "post"): lambda world: {
        "type": "email",
        "value": "x@example.com",
        "verified": True,
        "meta": {"last_viewed_at": "2024-05-11T16:36:17Z"},
    },
    ("customer-channel", "patch"): lambda world: {
        "primary": True,
        "meta": {"last_viewed_at": "2024-05-11T16:36:17Z"},
    },
    ("customer-points", "post"): lambda world: {
        "program_id": world["program"].pk,
        "action": "award",
        "points": 5,
        "reference": "r-1",
        "expires_at": "2030-01-01T00:00:00Z",
    },
    ("customer-cards", "post"): lambda world: {"stamp_card_id": world["stamp_card"].pk},
    ("card-stamps", "post"): lambda world: {"stamps": 1, "reason": "visit"},
    ("card-redeem", "post"): lambda world: {"reward_id": world["reward"].pk},
    ("transaction-returns", "post"): lambda world: {
        "external_id": "R-1",
        "occurred_at": "2026-06-16T12:00:00Z",
        "lines": [{"sku": "A", "quantity": 1}],
    },
    ("store-list", "post"): lambda world: {"code": "second.till", "name": "Two", "active": True},
    ("store-detail", "patch"): lambda world: {"name": "Main", "active": False},
    ("extended-field-list", "post"): lambda world: {
        "name": "shoe_size",
        "data_type": "enum",
        "allowed_values": ["40", "41"],
    },
    ("extended-field-detail", "patch"): lambda world: {"allowed_values": ["1"]},
    ("status-label-list", "post"): lambda world: {
        "name": "fraud",
        "status": "fraud_confirmed",
        "is_default": False,
        "may_earn": False,
        "may_spend": False,
    },
    ("status-label-detail", "patch"): lambda world: {"name": "vip", "may_spend": False},
    ("coupon-list", "post"): lambda world: {
        "series_id": world["series"].pk,
        "customer_id": world["customer"].public_id,
    },
    ("jericommerce-integration", "post"): lambda world: [
        {
            "email": "ana@example.com",
            "feature": "users",
            "payload": {
                "externalCustomerId": "crm-1",
                "name": "Ana Ruiz",
                "phone": "+1 933 222 3333",
                "email": "ana@example.com",
                "emailVerified": True,
            },
        }
    ],
    ("capillary-customers", "post"): capillary_body,
    ("capillary-customers", "put"): capillary_changes,
    ("capillary-customer", "put"): capillary_changes,
    ("voucherify-customers", "post"): voucherify_body,
    ("voucherify-customer", "put"): voucherify_body,
    ("leal-customers", "post"): leal_customer,
    ("leal-customer", "patch"): leal_customer,
    ("leal-customer", "put"): leal_customer,
    ("leal-stamp", "post"): lambda world: {"stamps": 1, "skip_notifications": "false"},
    ("leal-redeem", "post"): lambda world: {"reward_id": world["reward"].pk},
}


def leaves(value, path=()):
    """The path of every scalar in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def replaced(document, path, value):
    changed = copy.deepcopy(document)
    *parents, last = path
    target = changed
    for step in parents:
        target = target[step]
    target[last] = value
    return changed


def looks_like(value, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    return isinstance(value, str) and value[:4].isdigit() and value[4:5] == "-"


def malformed_values(value) -> dict[str, str]:
    """Case name -> JSON text of each malformed value worth putting where `value` is: NUL, deep
    nesting, a number past 64 bits and one past a float's range anywhere; the integer and date
    classes where an integer or a date was."""
    fragments = {
        "nul": json.dumps(TEXTS["nul"]),
        "two-to-the-64 (number)": NUMBERS["two-to-the-64"],
        "1e400 (number)": NUMBERS["1e400"],
        "deeply nested": DEEP,
    }
    if looks_like(value, "integer"):
        fragments |= {name: json.dumps(TEXTS[name]) for name in INTEGER_TEXTS}
        fragments |= {f"{name} (number)": number for name, number in NUMBERS.items()}
    if looks_like(value, "date"):
        fragments |= {name: json.dumps(TEXTS[name]) for name in DATE_TEXTS}
    return fragments


def field_bodies(body) -> list[tuple[str, str]]:
    """(case, JSON text): the valid body with one field at a time set to each malformed value."""
    cases = []
    for path in leaves(body):
        where = ".".join(map(str, path))
        marked = json.dumps(replaced(body, path, NUMBER_MARK))
        value = body
        for step in path:
            value = value[step]
        for name, fragment in malformed_values(value).items():
            cases.append((f"{where}={name}", marked.replace(f'"{NUMBER_MARK}"', fragment)))
    return cases


def whole_bodies(body) -> list[tuple[str, str, bytes]]:
    """(case, content type, body): bodies malformed as a whole."""
    json_type = "application/json"
    form_type = "application/x-www-form-urlencoded"
    over_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    return [
        ("deeply nested", json_type, DEEP.encode()),
        ("nul in a key", json_type, json.dumps({"a\x00": 1, **_object(body)}).encode()),
        ("nul escaped", json_type, b'{"first_name": "\\u0000"}'),
        ("5000-digit number", json_type, ("9" * 5000).encode()),
        ("invalid utf-8", json_type, b'{"first_name": "\xff"}'),
        ("over the size limit", json_type, b'{"a": "' + b"x" * over_limit + b'"}'),
        ("nul in a form", form_type, b"first_name=a%00b&customer%5Bfirst_name%5D=a%00b&a%00=1"),
    ]


def _object(body) -> dict:
    return body if isinstance(body, dict) else {}


class Caller:
    """Calls a door as its clients do, each call rolled back afterwards; notes every 5xx."""

    def __init__(self, world: dict):
        self.world = world
        self.client = Client(raise_request_exception=False)
        self.server_errors: list[str] = []

    def __call__(self, case: str, method: str, url: str, *, query=None, body=b"", **kwargs):
        if query:
            url = f"{url}?{urlencode(query)}"
        headers = credentials(url, self.world["key"], self.world["org"])
        kwargs.setdefault("content_type", "application/json")
        with transaction.atomic():
            response = getattr(self.client, method)(url, body, **headers, **kwargs)
            transaction.set_rollback(True)
        if response.status_code >= 500:
            self.server_errors.append(f"{response.status_code} {method.upper()} {url[:120]} {case}")
        return response


def route_id(route: Route) -> str:
    return route.url({param: f"{{{param}}}" for param in route.params}).removeprefix("/")


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_malformed_input_anywhere_is_a_4xx(world, route):
    caller = Caller(world)
    valid = path_values(route, world)
    for method in route.methods:
        template = BODIES.get((route.name, method))
        body = template(world) if template else {}
        sent = json.dumps(body) if method in ("post", "put", "patch") else b""
        query = base_query(route, world)
        for param in route.params:
            for name, text in TEXTS.items():
                url = route.url({**valid, param: text})
                caller(f"{param}={name}", method, url, query=query, body=sent)
        url = route.url(valid)
        for param in query_names(route, method):
            for name, text in TEXTS.items():
                caller(f"?{param}={name}", method, url, query={**query, param: text}, body=sent)
        caller("?unknown=nul", method, url, query={**query, "\x00": "\x00"}, body=sent)
        for header in ("HTTP_IDEMPOTENCY_KEY", "HTTP_USER_CONTEXT_ENTITY_ID", "HTTP_X_REQUEST_ID"):
            caller(f"{header}=nul", method, url, query=query, body=sent, **{header: "a\x00b"})
        if method not in ("post", "put", "patch"):
            continue
        for case, text in field_bodies(body):
            caller(case, method, url, query=query, body=text)
        for case, content_type, raw in whole_bodies(body):
            sent_as = {"body": raw, "content_type": content_type}
            caller(case, method, url, query=query, **sent_as)
            key = {"HTTP_IDEMPOTENCY_KEY": f"fuzz-{case}"}  # its request hash reads the body too
            caller(f"{case}, idempotent", method, url, query=query, **sent_as, **key)
    assert caller.server_errors == []


def paged_routes():
    for route in ROUTES:
        if page_names(route):
            yield pytest.param(route, id=route_id(route))


@pytest.mark.parametrize("route", list(paged_routes()))
def test_garbled_page_positions_are_a_4xx(world, route):
    caller = Caller(world)
    valid = path_values(route, world)
    for name in page_names(route):
        for case, value in {**CURSORS, **TEXTS}.items():
            caller(f"?{name}={case}", "get", route.url(valid), query={name: value})
    assert caller.server_errors == []
