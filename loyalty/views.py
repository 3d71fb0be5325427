"""A card's public page and its wallet links: reachable by anyone holding the link token."""

import qrcode
import qrcode.image.svg
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from .links import apple_wallet_url, google_wallet_url
from .models import CustomerCard
from .selectors import card_by_link_token, card_view
from .wallet.apple import apple_wallet_configured, build_pkpass
from .wallet.google import google_wallet_configured, save_url


def _card(token: str) -> CustomerCard:
    card = card_by_link_token(token)
    if card is None:
        raise Http404("No such card")
    return card


@never_cache
def card_page(request, token: str):
    card = _card(token)
    qr = qrcode.make(card.code, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    context = {
        "card": card,
        "progress": card_view(card).progress,
        "qr_svg": qr.to_string(encoding="unicode"),
        "apple_wallet_url": apple_wallet_url(card) if apple_wallet_configured() else None,
        "google_wallet_url": google_wallet_url(card) if google_wallet_configured() else None,
    }
    return render(request, "loyalty/card.html", context)


@never_cache
def apple_wallet(request, token: str):
    card = _card(token)
    if not apple_wallet_configured():
        return redirect("card-page", token=token)
    response = HttpResponse(build_pkpass(card), content_type="application/vnd.apple.pkpass")
    response["Content-Disposition"] = f'attachment; filename="{card.code}.pkpass"'
    return response


@never_cache
def google_wallet(request, token: str):
    card = _card(token)
    if not google_wallet_configured():
        return redirect("card-page", token=token)
    return redirect(save_url(card))
