"""Apple Wallet passes (.pkpass) for stamp cards, signed with the configured pass certificate.

Built with `cryptography` directly: a pass is a zip of pass.json, images, manifest.json (the SHA-1
of every file) and a detached PKCS#7 signature of the manifest, which `cryptography`'s PKCS7
builder makes in a few lines. (django-walletpass would add models and an update web service this
product does not use, and pins older Django releases.)
"""

import hashlib
import io
import json
import zipfile
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from django.conf import settings

from ..links import card_page_url
from ..models import CustomerCard
from ..selectors import card_view

IMAGES = Path(__file__).parent / "images"
IMAGE_NAMES = ["icon.png", "icon@2x.png", "logo.png", "logo@2x.png"]


def apple_wallet_configured() -> bool:
    return all(
        [
            settings.APPLE_WALLET_PASS_TYPE_ID,
            settings.APPLE_WALLET_TEAM_ID,
            settings.APPLE_WALLET_CERTIFICATE,
            settings.APPLE_WALLET_KEY,
        ]
    )


@cache
def _signing_material(cert_path: str, key_path: str, password: str, wwdr_path: str):
    certificate = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    key = serialization.load_pem_private_key(
        Path(key_path).read_bytes(), password=password.encode() or None
    )
    wwdr = x509.load_pem_x509_certificate(Path(wwdr_path).read_bytes()) if wwdr_path else None
    return certificate, key, wwdr


def pass_json(card: CustomerCard) -> dict:
    progress = card_view(card).progress
    stamps_drawn = "●" * progress.filled + "○" * progress.empty
    next_reward = (
        f"{progress.next_reward.name} at {progress.next_reward.stamp_cost}"
        if progress.next_reward
        else "All rewards reached"
    )
    rewards = "\n".join(f"{reward.stamp_cost} stamps: {reward.name}" for reward in progress.rewards)
    return {
        "formatVersion": 1,
        "passTypeIdentifier": settings.APPLE_WALLET_PASS_TYPE_ID,
        "teamIdentifier": settings.APPLE_WALLET_TEAM_ID,
        "serialNumber": card.code,
        "organizationName": card.organization.name,
        "description": card.stamp_card.name,
        "logoText": card.stamp_card.name,
        "foregroundColor": "rgb(255, 255, 255)",
        "labelColor": "rgb(220, 222, 228)",
        "backgroundColor": "rgb(60, 65, 76)",
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": card.code,
                "messageEncoding": "iso-8859-1",
                "altText": card.code,
            }
        ],
        "storeCard": {
            "headerFields": [
                {"key": "stamps", "label": "STAMPS", "value": f"{card.stamps}/{progress.goal}"}
            ],
            "primaryFields": [{"key": "progress", "label": "Stamps", "value": stamps_drawn}],
            "secondaryFields": [
                {"key": "member", "label": "Member", "value": card.customer.full_name or "-"}
            ],
            "auxiliaryFields": [{"key": "next", "label": "Next reward", "value": next_reward}],
            "backFields": [
                {"key": "rewards", "label": "Rewards", "value": rewards or "-"},
                {"key": "page", "label": "Your card", "value": card_page_url(card)},
            ],
        },
    }


def build_pkpass(card: CustomerCard) -> bytes:
    """The signed .pkpass file of the card, as it stands now."""
    files = {"pass.json": json.dumps(pass_json(card), ensure_ascii=False).encode()}
    files.update({name: (IMAGES / name).read_bytes() for name in IMAGE_NAMES})
    manifest = json.dumps(
        {name: hashlib.sha1(content).hexdigest() for name, content in files.items()},  # noqa: S324 - the pass format requires SHA-1
        sort_keys=True,
    ).encode()
    certificate, key, wwdr = _signing_material(
        settings.APPLE_WALLET_CERTIFICATE,
        settings.APPLE_WALLET_KEY,
        settings.APPLE_WALLET_KEY_PASSWORD,
        settings.APPLE_WALLET_WWDR_CERTIFICATE,
    )
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(certificate, key, hashes.SHA256())
    )
    if wwdr is not None:
        builder = builder.add_certificate(wwdr)
    signature = builder.sign(
        serialization.Encoding.DER,
        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        archive.writestr("manifest.json", manifest)
        archive.writestr("signature", signature)
    return buffer.getvalue()
