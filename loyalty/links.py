"""A card's public links: its web page and its Apple and Google wallet links.

All are absolute (PUBLIC_BASE_URL), stable, and unguessable: they carry the card's random link
token, never its id or code.
"""

from django.conf import settings
from django.urls import reverse

from .models import CustomerCard
from .selectors import CardView

Card = CustomerCard | CardView


def _absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


def card_page_url(card: Card) -> str:
    return _absolute(reverse("card-page", args=[card.link_token]))


def apple_wallet_url(card: Card) -> str:
    return _absolute(reverse("card-apple-wallet", args=[card.link_token]))


def google_wallet_url(card: Card) -> str:
    return _absolute(reverse("card-google-wallet", args=[card.link_token]))


def card_links_message(card: CustomerCard) -> tuple[str, str]:
    """The subject and body that carry the card's links to its holder."""
    name = card.stamp_card.name
    subject = f"Your {name} card"
    body = (
        f"Your {name} card ({card.code}) is ready.\n\n"
        f"See your stamps: {card_page_url(card)}\n"
        f"Add it to Apple Wallet: {apple_wallet_url(card)}\n"
        f"Add it to Google Wallet: {google_wallet_url(card)}\n"
    )
    return subject, body
