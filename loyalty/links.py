"""A card's public links: its web page and its Apple and Google wallet links.

All are absolute (PUBLIC_BASE_URL), stable, and unguessable: they carry the card's random link
token, never its id or code.
"""

from dataclasses import dataclass

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


@dataclass(frozen=True)
class CardLinksMessage:
    """What carries a card's links to its holder: an email with every link, and a text message
    with the card page's alone (it has the wallet buttons), so that it stays one short SMS."""

    subject: str
    email_body: str
    sms_body: str


def card_title(card: CustomerCard) -> str:
    """ "Your Coffee card": the stamp card's name, with "card" added unless it already says so."""
    name = card.stamp_card.name.strip()
    return f"Your {name}" if name.lower().endswith("card") else f"Your {name} card"


def card_links_message(card: CustomerCard) -> CardLinksMessage:
    title = card_title(card)
    page = card_page_url(card)
    return CardLinksMessage(
        subject=title,
        email_body=(
            f"{title} ({card.code}) is ready.\n\n"
            f"See your stamps: {page}\n"
            f"Add it to Apple Wallet: {apple_wallet_url(card)}\n"
            f"Add it to Google Wallet: {google_wallet_url(card)}\n"
        ),
        sms_body=f"{title} ({card.code}) is ready: {page}",
    )
