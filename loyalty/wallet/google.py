"""Google Wallet "Save to Google Wallet" links for stamp cards.

The link carries a JWT signed (RS256) with the configured service account key; it defines the
stamp card's loyalty class and the customer's loyalty object with the stamp progress.
"""

import json
import time
from functools import cache
from pathlib import Path

import jwt
from django.conf import settings

from ..links import card_page_url
from ..models import CustomerCard
from ..selectors import card_view

SAVE_URL = "https://pay.google.com/gp/v/save/"


def google_wallet_configured() -> bool:
    return bool(settings.GOOGLE_WALLET_ISSUER_ID and settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE)


@cache
def _service_account(path: str) -> dict:
    return json.loads(Path(path).read_text())


def loyalty_object(card: CustomerCard) -> tuple[dict, dict]:
    issuer = settings.GOOGLE_WALLET_ISSUER_ID
    progress = card_view(card).progress
    class_id = f"{issuer}.stamp-card-{card.stamp_card_id}"
    loyalty_class = {
        "id": class_id,
        "issuerName": card.organization.name,
        "programName": card.stamp_card.name,
        "programLogo": {
            "sourceUri": {"uri": f"{settings.PUBLIC_BASE_URL}{settings.STATIC_URL}loyalty/logo.png"}
        },
        "reviewStatus": "UNDER_REVIEW",
    }
    obj = {
        "id": f"{issuer}.{card.link_token}",
        "classId": class_id,
        "state": "ACTIVE",
        "accountId": card.code,
        "accountName": card.customer.full_name or card.code,
        "barcode": {"type": "QR_CODE", "value": card.code, "alternateText": card.code},
        "loyaltyPoints": {"label": "Stamps", "balance": {"int": card.stamps}},
        "secondaryLoyaltyPoints": {
            "label": "Goal",
            "balance": {"string": f"{card.stamps}/{progress.goal}"},
        },
        "linksModuleData": {"uris": [{"uri": card_page_url(card), "description": "Your card"}]},
    }
    return loyalty_class, obj


def save_url(card: CustomerCard) -> str:
    """A Save to Google Wallet link holding the card as it stands now."""
    account = _service_account(settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE)
    loyalty_class, obj = loyalty_object(card)
    claims = {
        "iss": account["client_email"],
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(time.time()),
        "origins": [settings.PUBLIC_BASE_URL],
        "payload": {"loyaltyClasses": [loyalty_class], "loyaltyObjects": [obj]},
    }
    headers = {"kid": account["private_key_id"]} if "private_key_id" in account else None
    token = jwt.encode(claims, account["private_key"], algorithm="RS256", headers=headers)
    return SAVE_URL + token
