"""Leal's stamp-card API (v1): a store's customers, their cards, stamps and rewards.

Every path starts with /api/v1/accounts/{account_id}, the account being one of the
organization's stores:

    GET, POST        /customers                      list (search, page, items), create
    GET, PATCH, PUT  /customers/{id}
    GET              /customers/{id}/customer_cards[/{card}]
    POST             /customers/{id}/customer_cards/{card}/stamp   (stamps, skip_notifications)
    POST             /customers/{id}/customer_cards/{card}/redeem  (reward_id)
    GET              /cards, /rewards                the store's card templates and rewards

Authentication: `Authorization: Bearer <API key>`. Bodies are JSON (`{"customer": {...}}`) or
form fields (`customer[first_name]=...`). Mapping and what is not supported: docs/compat/leal.md.
"""

import re
from math import ceil
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from rest_framework.response import Response

from crm.api.rendering import iso
from crm.errors import DomainError, ErrorCode
from crm.models import Store
from crm.parsing import MAX_BIGINT, parse_boolean, parse_date, parse_id, parse_integer
from customers.inputs import UNSET, CustomerInput
from customers.membership.registration import customer_register
from customers.membership.search import customer_search
from customers.membership.update import customer_update
from customers.models import Customer
from loyalty import services as loyalty_services
from loyalty.links import apple_wallet_url, google_wallet_url
from loyalty.models import CustomerCard, Reward, StampCard
from loyalty.selectors import card_view, cards_with_rewards

from .base import BearerKey, VendorView, path_id

DEFAULT_ITEMS = 20
MAX_ITEMS = 100
MAX_PAGE = MAX_BIGINT // MAX_ITEMS  # the page's offset is a 64-bit integer in SQL
PROFILE = ("first_name", "last_name", "email", "phone", "birthday")
FIELD_NAMES = [
    (r"^stamp_card_ids\[\d+\]$", "card_id"),
    (r"^stamp_card$", "card_id"),
    (r"^reward$", "reward_id"),
    (r"^card$", "id"),
]


def leal_field(field: str | None) -> str:
    field = field or "base"
    for ours, theirs in FIELD_NAMES:
        field = re.sub(ours, theirs, field)
    return field


def invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field=field)


def customer_params(data) -> dict[str, Any]:
    """The `customer` hash, sent as a JSON object or as `customer[name]` form fields."""
    nested = data.get("customer")
    if isinstance(nested, dict):
        return nested
    if nested is not None:
        raise invalid("customer", "must be a Hash")
    return {
        match[1]: data.get(key)
        for key in data
        if (match := re.fullmatch(r"customer\[(\w+)\]", key))
    }


def customer_input(params: dict[str, Any]) -> CustomerInput:
    """What the sent attributes set; those not sent stay UNSET (not changed)."""
    data = CustomerInput()
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


def _require_name_and_contact(first_name: Any, email: Any, phone: Any) -> None:
    if not first_name:
        raise DomainError(ErrorCode.REQUIRED, "can't be blank", field="first_name")
    if not email and not phone:
        raise DomainError(ErrorCode.REQUIRED, "email or phone is required", field="email")


def store_cards(store: Store) -> QuerySet[StampCard]:
    """The card templates a store offers: its own and the organization-wide ones."""
    return StampCard.objects.filter(organization_id=store.organization_id).filter(
        Q(store=store) | Q(store__isnull=True)
    )


def store_customers(store: Store) -> QuerySet[Customer]:
    """A store's customers (those registered there), with their cards and identifiers."""
    return Customer.objects.filter(
        organization_id=store.organization_id, registered_store=store
    ).prefetch_related(
        Prefetch("cards", queryset=cards_with_rewards().order_by("created_at", "pk")),
        "identifiers",
    )


def render_card(card: CustomerCard, store: Store, *, full: bool = True) -> dict:
    view = card_view(card)
    progress = view.progress
    rendered = {
        "id": card.pk,
        "uuid": card.link_token,
        "account_id": store.pk,
        "customer_id": card.customer_id,
        "card_id": card.stamp_card_id,
        "card_name": view.stamp_card_name,
        "stamps_count": card.stamps,
        "stamps_remaining": progress.empty,
        "progress_percentage": progress.filled * 100 // progress.goal,
        "available_rewards": [
            {"id": reward.pk, "name": reward.name, "stamps_required": reward.stamp_cost}
            for reward in progress.redeemable
        ],
        "status": card.status,
        "pass_installed": False,
        "apple_wallet_url": apple_wallet_url(card),
        "google_wallet_url": google_wallet_url(card),
        "issued_at": iso(card.created_at),
        "created_at": iso(card.created_at),
        "updated_at": iso(card.updated_at),
    }
    if not full:
        for name in ("account_id", "customer_id", "available_rewards"):
            del rendered[name]
    return rendered


def render_customer(customer: Customer, store: Store, *, full: bool = True) -> dict:
    cards = list(customer.cards.all())
    return {
        "id": customer.pk,
        "account_id": store.pk,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "phone": customer.phone,
        "birthday": customer.birthday.isoformat() if customer.birthday else None,
        "stamp_count": sum(card.stamps for card in cards),
        "metadata": customer.custom_fields,
        "external_references": [
            {"source": i.source, "account_id": i.account_id, "type": i.type, "value": i.value}
            for i in customer.identifiers.all()
        ],
        "customer_cards": [render_card(card, store, full=full) for card in cards],
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
    }


class LealView(VendorView):
    authentication_classes = [BearerKey]

    def error(self, status, code, message, field=None):
        if status == 422 or (status == 400 and isinstance(code, str)):
            return Response(
                {"error": "Validation failed", "errors": {leal_field(field): [message]}},
                status=422,
            )
        return Response({"error": message}, status=status)

    def handle_exception(self, exc):
        if isinstance(exc, DomainError) and exc.code != ErrorCode.NOT_FOUND:
            return self.error(422, str(exc.code), exc.message, exc.field)
        return super().handle_exception(exc)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        account_id = path_id(kwargs["account_id"], field="account_id", message="Store not found")
        self.store = Store.objects.filter(organization=self.organization, pk=account_id).first()
        if self.store is None:
            raise DomainError(ErrorCode.NOT_FOUND, "Store not found")

    @property
    def body(self):
        """The request's parameters: a JSON object or form fields."""
        if not hasattr(self.request.data, "get"):
            raise invalid("base", "the body must be a JSON object or form fields")
        return self.request.data

    def customer(self, customer_id: str) -> Customer:
        pk = path_id(customer_id, field="customer_id", message="Customer not found")
        customer = store_customers(self.store).filter(pk=pk).first()
        if customer is None:
            raise DomainError(ErrorCode.NOT_FOUND, "Customer not found")
        return customer

    def card(self, customer_id: str, card_id: str) -> CustomerCard:
        customer = self.customer(customer_id)
        card = next((c for c in customer.cards.all() if str(c.pk) == card_id), None)
        if card is None:
            raise DomainError(ErrorCode.NOT_FOUND, "Customer card not found")
        return card

    def rendered_customer(self, customer: Customer) -> dict:
        return render_customer(self.customer(str(customer.pk)), self.store)

    def rendered_card(self, card: CustomerCard) -> dict:
        return render_card(cards_with_rewards().get(pk=card.pk), self.store)


class CustomersView(LealView):
    def get(self, request, account_id):
        params = request.query_params
        page = parse_integer(params.get("page") or 1, field="page", minimum=1, maximum=MAX_PAGE)
        items = parse_integer(
            params.get("items") or DEFAULT_ITEMS, field="items", minimum=1, maximum=MAX_ITEMS
        )
        customers = store_customers(self.store)
        if params.get("search", "").strip():
            customers = customer_search(
                customers, organization=self.organization, text=params["search"]
            )
        count = customers.count()
        rows = customers.order_by("-created_at", "-pk")[(page - 1) * items : page * items]
        return Response(
            {
                "customers": [render_customer(c, self.store, full=False) for c in rows],
                "pagination": {
                    "count": count,
                    "items": items,
                    "page": page,
                    "pages": max(1, ceil(count / items)),
                },
            }
        )

    def post(self, request, account_id):
        params = customer_params(self.body)
        _require_name_and_contact(
            params.get("first_name"), params.get("email"), params.get("phone")
        )
        data = customer_input(params)
        data.store_code = self.store.code
        card_id = self.body.get("card_id")
        if card_id not in (None, ""):
            card_id = parse_id(card_id, field="card_id")
            if not store_cards(self.store).filter(pk=card_id).exists():
                raise invalid("card_id", "is not a card of this store")
            data.stamp_card_ids = [card_id]
        send_links = parse_boolean(self.body.get("send_card_links", False), field="send_card_links")
        result = customer_register(organization=self.organization, data=data, actor=self.actor)
        customer = self.customer(str(result.customer.pk))
        if send_links:
            for card in customer.cards.all():
                loyalty_services.card_links_send(
                    organization=self.organization, card=card, actor=self.actor
                )
        return Response(render_customer(customer, self.store), status=201)


class CustomerView(LealView):
    def get(self, request, account_id, customer_id):
        return Response(render_customer(self.customer(customer_id), self.store))

    def patch(self, request, account_id, customer_id):
        customer = self.customer(customer_id)
        params = customer_params(self.body)
        data = customer_input(params)
        _require_name_and_contact(
            customer.first_name if data.first_name is UNSET else data.first_name,
            customer.email if data.email is UNSET else data.email,
            customer.phone if data.phone is UNSET else data.phone,
        )
        customer_update(customer=customer, data=data, actor=self.actor)
        return Response(self.rendered_customer(customer))

    put = patch


class CustomerCardsView(LealView):
    def get(self, request, account_id, customer_id):
        customer = self.customer(customer_id)
        return Response([render_card(c, self.store, full=False) for c in customer.cards.all()])


class CustomerCardView(LealView):
    def get(self, request, account_id, customer_id, card_id):
        return Response(render_card(self.card(customer_id, card_id), self.store))


class StampView(LealView):
    def post(self, request, account_id, customer_id, card_id):
        card = self.card(customer_id, card_id)
        stamps = self.body.get("stamps", 1)
        # The CRM pushes no stamp notifications, so there is nothing for the flag to skip.
        parse_boolean(self.body.get("skip_notifications", False), field="skip_notifications")
        loyalty_services.stamps_add(
            organization=self.organization,
            card=card,
            stamps=parse_integer(stamps, field="stamps"),
            actor=self.actor,
        )
        return Response({"success": True, "customer_card": self.rendered_card(card)})


class RedeemView(LealView):
    def post(self, request, account_id, customer_id, card_id):
        card = self.card(customer_id, card_id)
        reward_id = self.body.get("reward_id")
        if reward_id in (None, ""):
            raise DomainError(ErrorCode.REQUIRED, "can't be blank", field="reward_id")
        reward = Reward.objects.filter(
            stamp_card__in=store_cards(self.store),
            pk=parse_id(reward_id, field="reward_id"),
        ).first()
        if reward is None:
            raise DomainError(ErrorCode.NOT_FOUND, "Reward not found")
        result = loyalty_services.reward_redeem(
            organization=self.organization, card=card, reward=reward, actor=self.actor
        )
        redemption = result.transaction
        return Response(
            {
                "success": True,
                "redemption": {
                    "id": redemption.pk,
                    "redeemed_at": iso(redemption.created_at),
                    "reward_id": reward.pk,
                    "reward_name": reward.name,
                    "stamps_remaining": result.card.stamps,
                    "stamps_spent": reward.stamp_cost,
                },
                "customer_card": self.rendered_card(card),
            }
        )


class CardsView(LealView):
    def get(self, request, account_id):
        cards = (
            store_cards(self.store)
            .filter(active=True)
            .annotate(customer_cards_count=Count("customer_cards", distinct=True))
            .prefetch_related(
                Prefetch("rewards", queryset=Reward.objects.order_by("stamp_cost", "pk"))
            )
            .order_by("pk")
        )
        return Response(
            [
                {
                    "id": card.pk,
                    "name": card.name,
                    "stamps_required": max(
                        [1, *(r.stamp_cost for r in card.rewards.all() if r.active)]
                    ),
                    "initial_stamps": card.initial_stamps,
                    "archived_at": None,
                    "expires_at": None,
                    "rewards_count": sum(1 for r in card.rewards.all() if r.active),
                    "customer_cards_count": card.customer_cards_count,
                    "created_at": iso(card.created_at),
                    "updated_at": iso(card.created_at),
                }
                for card in cards
            ]
        )


class RewardsView(LealView):
    def get(self, request, account_id):
        rewards = Reward.objects.filter(stamp_card__in=store_cards(self.store)).order_by(
            "stamp_card_id", "stamp_cost", "pk"
        )
        if request.query_params.get("card_id"):
            rewards = rewards.filter(
                stamp_card_id=parse_id(request.query_params["card_id"], field="card_id")
            )
        active = request.query_params.get("active")
        only_active = None if active in (None, "") else parse_boolean(active, field="active")
        positions: dict[int, int] = {}
        rendered = []
        for reward in rewards:
            positions[reward.stamp_card_id] = positions.get(reward.stamp_card_id, 0) + 1
            if only_active is not None and reward.active != only_active:
                continue
            rendered.append(
                {
                    "id": reward.pk,
                    "account_id": self.store.pk,
                    "card_id": reward.stamp_card_id,
                    "name": reward.name,
                    "description": "",
                    "stamps_required": reward.stamp_cost,
                    "position": positions[reward.stamp_card_id],
                    "active": reward.active,
                }
            )
        return Response(rendered)
