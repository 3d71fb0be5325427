"""The customers, cards and rewards Leal's replies show under an account (a store)."""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from crm.models import Organization, Store
from customers.models import Customer, Identifier
from loyalty.models import Reward, StampCard
from loyalty.selectors import cards_with_rewards


def store_cards(store: Store) -> QuerySet[StampCard]:
    """The card templates a store offers: its own and the organization-wide ones."""
    return StampCard.objects.filter(organization_id=store.organization_id).filter(
        Q(store=store) | Q(store__isnull=True)
    )


def organization_customers(organization: Organization) -> QuerySet[Customer]:
    """Every customer of the organization, whichever store or door registered them, with their
    cards and identifiers: an account (store) is where what a client writes is recorded, and
    hides no customer."""
    return Customer.objects.filter(organization=organization).prefetch_related(
        Prefetch("cards", queryset=cards_with_rewards().order_by("created_at", "pk")),
        "identifiers",
    )


def with_external_reference(
    customers: QuerySet[Customer], *, source: str, external_id: str
) -> QuerySet[Customer]:
    """The customers with an identifier of `external_id` in `source` (an identifier source, as
    the replies' external_references name it; any case)."""
    return customers.filter(
        Exists(
            Identifier.objects.filter(
                customer=OuterRef("pk"), source=source.strip().upper(), value=external_id.strip()
            )
        )
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
