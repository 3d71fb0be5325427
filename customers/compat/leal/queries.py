"""A store's customers, cards and rewards, as Leal's replies show them."""

from django.db.models import Count, Prefetch, Q, QuerySet

from crm.models import Store
from customers.models import Customer
from loyalty.models import Reward, StampCard
from loyalty.selectors import cards_with_rewards


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


def active_templates(store: Store) -> QuerySet[StampCard]:
    """The store's active cards, with their rewards by cost and how many customers hold each."""
    return (
        store_cards(store)
        .filter(active=True)
        .annotate(customer_cards_count=Count("customer_cards", distinct=True))
        .prefetch_related(Prefetch("rewards", queryset=Reward.objects.order_by("stamp_cost", "pk")))
        .order_by("pk")
    )


def store_rewards(store: Store) -> QuerySet[Reward]:
    """The rewards of the store's cards, by card and cost."""
    return Reward.objects.filter(stamp_card__in=store_cards(store)).order_by(
        "stamp_card_id", "stamp_cost", "pk"
    )
