"""Leal's endpoints: each parses its parameters, calls one service or query, and renders."""

from rest_framework.response import Response

from crm.errors import DomainError, ErrorCode
from crm.models import Store
from crm.parsing import parse_boolean, parse_id, parse_integer
from customers.compat.authentication import BearerKey
from customers.compat.base import VendorView, path_id
from customers.compat.leal import queries, rendering
from customers.compat.leal.parsing import (
    QueryRefused,
    body_params,
    check_query,
    customer_input,
    customer_params,
    invalid,
    page_params,
    require_name_and_contact,
)
from customers.inputs import UNSET
from customers.membership.registration import customer_register
from customers.membership.search import customer_search
from customers.membership.update import customer_update
from customers.models import Customer
from loyalty.models import CustomerCard, Reward
from loyalty.selectors import cards_with_rewards
from loyalty.services.card_links import card_links_send
from loyalty.services.stamps import reward_redeem, stamps_add


class LealView(VendorView):
    authentication_classes = [BearerKey]
    # The query parameters the endpoint takes; any other is refused, never ignored. Of the
    # paired ones, all or none are given.
    query_parameters: frozenset[str] = frozenset()
    paired_query_parameters: tuple[str, ...] = ()

    def error(self, status, code, message, field=None):
        if status == 422 or (status == 400 and isinstance(code, str)):
            return Response(rendering.validation_failed(message, field, code), status=422)
        return Response(rendering.error_body(message), status=status)

    def handle_exception(self, exc):
        if isinstance(exc, QueryRefused):
            return Response(rendering.query_refused(exc.message, exc.parameter), status=400)
        if isinstance(exc, DomainError) and exc.code != ErrorCode.NOT_FOUND:
            return self.error(422, str(exc.code), exc.message, exc.field)
        return super().handle_exception(exc)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        account_id = path_id(kwargs["account_id"], field="account_id", message="Store not found")
        self.store = Store.objects.filter(organization=self.organization, pk=account_id).first()
        if self.store is None:
            raise DomainError(ErrorCode.NOT_FOUND, "Store not found")
        check_query(
            request.query_params, self.query_parameters, together=self.paired_query_parameters
        )

    @property
    def body(self):
        return body_params(self.request.data)

    def customer(self, customer_id: str) -> Customer:
        pk = path_id(customer_id, field="customer_id", message="Customer not found")
        customer = queries.organization_customers(self.organization).filter(pk=pk).first()
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
        return rendering.render_customer(self.customer(str(customer.pk)), self.store)


class CustomersView(LealView):
    query_parameters = frozenset({"search", "source", "external_id", "page", "items"})
    paired_query_parameters = ("source", "external_id")

    def get(self, request, account_id):
        query = request.query_params
        page, items = page_params(query)
        customers = queries.organization_customers(self.organization)
        if query.get("search", "").strip():
            customers = customer_search(
                customers, organization=self.organization, text=query["search"]
            )
        if query.get("source", "").strip():
            customers = queries.with_external_reference(
                customers, source=query["source"], external_id=query["external_id"]
            )
        count = customers.count()
        rows = customers.order_by("-created_at", "-pk")[(page - 1) * items : page * items]
        return Response(
            rendering.customers_page(rows, self.store, count=count, page=page, items=items)
        )

    def post(self, request, account_id):
        params = customer_params(self.body)
        require_name_and_contact(params.get("first_name"), params.get("email"), params.get("phone"))
        data = customer_input(params)
        data.store_code = self.store.code
        card_id = self.body.get("card_id")
        if card_id not in (None, ""):
            card_id = parse_id(card_id, field="card_id")
            if not queries.store_cards(self.store).filter(pk=card_id).exists():
                raise invalid("card_id", "is not a card of this store")
            data.stamp_card_ids = [card_id]
        send_links = parse_boolean(self.body.get("send_card_links", False), field="send_card_links")
        result = customer_register(organization=self.organization, data=data, actor=self.actor)
        customer = self.customer(str(result.customer.pk))
        if send_links:
            for card in customer.cards.all():
                card_links_send(organization=self.organization, card=card, actor=self.actor)
        rendered = rendering.render_customer(customer, self.store)
        if data.stamp_card_ids:
            [card_id] = data.stamp_card_ids
            cards = rendered["customer_cards"]
            rendered["customer_card"] = next(c for c in cards if c["card_id"] == card_id)
        return Response(rendered, status=201)


class CustomerView(LealView):
    def get(self, request, account_id, customer_id):
        return Response(rendering.render_customer(self.customer(customer_id), self.store))

    def patch(self, request, account_id, customer_id):
        customer = self.customer(customer_id)
        data = customer_input(customer_params(self.body))
        require_name_and_contact(
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
        return Response(
            [rendering.render_card(c, self.store, full=False) for c in customer.cards.all()]
        )


class CustomerCardView(LealView):
    def get(self, request, account_id, customer_id, card_id):
        return Response(rendering.render_card(self.card(customer_id, card_id), self.store))


class StampView(LealView):
    def post(self, request, account_id, customer_id, card_id):
        card = self.card(customer_id, card_id)
        stamps = self.body.get("stamps", 1)
        # The CRM pushes no stamp notifications, so there is nothing for the flag to skip.
        parse_boolean(self.body.get("skip_notifications", False), field="skip_notifications")
        stamps_add(
            organization=self.organization,
            card=card,
            stamps=parse_integer(stamps, field="stamps"),
            actor=self.actor,
        )
        return Response(rendering.render_card(cards_with_rewards().get(pk=card.pk), self.store))


class RedeemView(LealView):
    def post(self, request, account_id, customer_id, card_id):
        card = self.card(customer_id, card_id)
        reward_id = self.body.get("reward_id")
        if reward_id in (None, ""):
            raise DomainError(ErrorCode.REQUIRED, "can't be blank", field="reward_id")
        reward = Reward.objects.filter(
            stamp_card__in=queries.store_cards(self.store),
            pk=parse_id(reward_id, field="reward_id"),
        ).first()
        if reward is None:
            raise DomainError(ErrorCode.NOT_FOUND, "Reward not found")
        result = reward_redeem(
            organization=self.organization, card=card, reward=reward, actor=self.actor
        )
        card = cards_with_rewards().get(pk=card.pk)
        return Response(rendering.redeemed(result, reward, card, self.store))


class CardsView(LealView):
    def get(self, request, account_id):
        templates = queries.active_templates(self.store)
        return Response([rendering.render_template(card) for card in templates])


class RewardsView(LealView):
    query_parameters = frozenset({"card_id", "active"})

    def get(self, request, account_id):
        rewards = queries.store_rewards(self.store)
        if request.query_params.get("card_id"):
            rewards = rewards.filter(
                stamp_card_id=parse_id(request.query_params["card_id"], field="card_id")
            )
        active = request.query_params.get("active")
        only_active = None if active in (None, "") else parse_boolean(active, field="active")
        return Response(rendering.render_rewards(rewards, self.store, only_active=only_active))
