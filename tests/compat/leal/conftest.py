import pytest

from tests.crm.factories import StoreFactory
from tests.loyalty.factories import RewardFactory, StampCardFactory


@pytest.fixture
def store(org):
    """The store a Leal account is."""
    return StoreFactory(organization=org, code="main.till")


@pytest.fixture
def card(org, store):
    card = StampCardFactory(organization=org, store=store, name="Coffee", initial_stamps=2)
    RewardFactory(stamp_card=card, name="Free coffee", stamp_cost=5)
    RewardFactory(stamp_card=card, name="Free cake", stamp_cost=8)
    return card
