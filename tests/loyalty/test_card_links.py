"""A card's public page, its Apple and Google wallet links, and sending them to the customer."""

import datetime as dt
import hashlib
import io
import json
import subprocess
import zipfile
from urllib.parse import urlparse

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core import mail
from django.db import connection, transaction
from django.test import TestCase

from crm.actors import Actor
from loyalty.links import apple_wallet_url, card_page_url, google_wallet_url
from loyalty.models import CardLinkDelivery
from loyalty.services.card_links import card_links_send
from loyalty.services.stamps import stamps_add
from loyalty.wallet import apple, google
from tests.customers.factories import ChannelFactory
from tests.loyalty.factories import CustomerCardFactory, RewardFactory

pytestmark = pytest.mark.django_db
CLERK = Actor("staff", "7 clerk")


@pytest.fixture
def card(org):
    card = CustomerCardFactory(
        customer__organization=org,
        customer__first_name="Tom",
        customer__last_name="Sawyer",
        stamp_card__name="Coffee card",
    )
    RewardFactory(stamp_card=card.stamp_card, name="Free coffee", stamp_cost=5)
    RewardFactory(stamp_card=card.stamp_card, name="Free lunch", stamp_cost=10)
    stamps_add(organization=org, card=card, stamps=6, actor=CLERK)
    return card


def path_of(url):
    return urlparse(url).path


def test_links_are_absolute_stable_and_unguessable(card, settings):
    settings.PUBLIC_BASE_URL = "https://crm.example.com"
    urls = [card_page_url(card), apple_wallet_url(card), google_wallet_url(card)]
    assert all(url.startswith("https://crm.example.com/cards/") for url in urls)
    assert all(card.link_token in url for url in urls)
    assert len(card.link_token) >= 32
    assert CustomerCardFactory(customer=card.customer).link_token != card.link_token
    assert card.code not in "".join(urls)
    card.refresh_from_db()
    assert [card_page_url(card), apple_wallet_url(card), google_wallet_url(card)] == urls


def test_without_keys_both_wallet_links_lead_to_the_card_page(client, card):
    for url in (apple_wallet_url(card), google_wallet_url(card)):
        response = client.get(path_of(url))
        assert response.status_code == 302
        assert response["Location"] == path_of(card_page_url(card))


def test_the_card_page_shows_progress_rewards_and_a_qr_code(client, card):
    page = client.get(path_of(card_page_url(card))).content.decode()
    assert "Coffee card" in page
    assert "<strong>6</strong> of 10 stamps" in page
    assert page.count('class="stamp filled"') == 6
    assert page.count('class="stamp"') == 4
    assert "Free coffee" in page
    assert "Next: Free lunch at 10 stamps" in page
    assert "<svg" in page
    assert card.code in page


def test_an_unknown_token_is_not_found(client, db):
    assert client.get("/cards/not-a-token/").status_code == 404
    assert client.get("/cards/not-a-token/apple/").status_code == 404


# --- Apple Wallet ------------------------------------------------------------------------------


def certificate(subject, key, issuer=None, issuer_key=None, ca=False):
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )


def write_pem(path, obj):
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return str(path)


@pytest.fixture
def apple_keys(tmp_path, settings):
    """A throwaway authority (standing in for Apple's WWDR) and a pass certificate it signed."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = certificate("Test WWDR", ca_key, ca=True)
    pass_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pass_cert = certificate("Pass Type ID: pass.test.loyalty", pass_key, ca, ca_key)
    settings.APPLE_WALLET_PASS_TYPE_ID = "pass.test.loyalty"
    settings.APPLE_WALLET_TEAM_ID = "TEAM123456"
    settings.APPLE_WALLET_CERTIFICATE = write_pem(tmp_path / "pass.pem", pass_cert)
    settings.APPLE_WALLET_KEY = write_pem(tmp_path / "pass.key", pass_key)
    settings.APPLE_WALLET_WWDR_CERTIFICATE = write_pem(tmp_path / "wwdr.pem", ca)
    return tmp_path


def test_apple_wallet_link_serves_a_signed_pass(client, card, apple_keys):
    response = client.get(path_of(apple_wallet_url(card)))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.pkpass"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    files = {name: archive.read(name) for name in archive.namelist()}
    assert {"pass.json", "manifest.json", "signature", "icon.png", "logo.png"} <= set(files)

    manifest = json.loads(files["manifest.json"])
    signed = set(files) - {"manifest.json", "signature"}
    assert set(manifest) == signed
    for name in signed:
        assert manifest[name] == hashlib.sha1(files[name]).hexdigest()  # noqa: S324

    pass_data = json.loads(files["pass.json"])
    assert pass_data["passTypeIdentifier"] == "pass.test.loyalty"
    assert pass_data["teamIdentifier"] == "TEAM123456"
    assert pass_data["barcodes"][0]["message"] == card.code
    assert pass_data["storeCard"]["headerFields"][0]["value"] == "6/10"
    assert pass_data["storeCard"]["primaryFields"][0]["value"] == "●" * 6 + "○" * 4

    (apple_keys / "manifest.json").write_bytes(files["manifest.json"])
    (apple_keys / "signature").write_bytes(files["signature"])
    verified = openssl_verify(apple_keys)
    assert verified.returncode == 0, verified.stderr
    assert "Verification successful" in verified.stderr


def openssl_verify(folder):
    """openssl's own check of the detached signature over the manifest, against the authority."""
    return subprocess.run(  # noqa: S603
        [  # noqa: S607 - the system's openssl, an independent implementation
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-purpose",
            "any",
            "-in",
            str(folder / "signature"),
            "-content",
            str(folder / "manifest.json"),
            "-CAfile",
            str(folder / "wwdr.pem"),
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_tampered_manifest_fails_verification(card, apple_keys):
    archive = zipfile.ZipFile(io.BytesIO(apple.build_pkpass(card)))
    (apple_keys / "manifest.json").write_bytes(archive.read("manifest.json") + b" ")
    (apple_keys / "signature").write_bytes(archive.read("signature"))
    verified = openssl_verify(apple_keys)
    assert verified.returncode != 0


# --- Google Wallet -----------------------------------------------------------------------------


@pytest.fixture
def google_key(tmp_path, settings):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = {
        "type": "service_account",
        "client_email": "wallet@test-project.iam.gserviceaccount.com",
        "private_key_id": "key-1",
        "private_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(account))
    settings.GOOGLE_WALLET_ISSUER_ID = "3388000000012345678"
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(path)
    return key.public_key()


def test_google_wallet_link_carries_a_signed_loyalty_object(client, card, google_key):
    response = client.get(path_of(google_wallet_url(card)))

    assert response.status_code == 302
    assert response["Location"].startswith(google.SAVE_URL)
    token = response["Location"].removeprefix(google.SAVE_URL)
    assert jwt.get_unverified_header(token)["kid"] == "key-1"
    claims = jwt.decode(token, google_key, algorithms=["RS256"], audience="google")
    assert claims["iss"] == "wallet@test-project.iam.gserviceaccount.com"
    assert claims["typ"] == "savetowallet"
    [loyalty_object] = claims["payload"]["loyaltyObjects"]
    assert loyalty_object["id"] == f"3388000000012345678.{card.link_token}"
    assert loyalty_object["barcode"]["value"] == card.code
    assert loyalty_object["loyaltyPoints"]["balance"] == {"int": 6}
    assert loyalty_object["secondaryLoyaltyPoints"]["balance"] == {"string": "6/10"}
    assert loyalty_object["accountName"] == "Tom Sawyer"


def test_a_link_signed_with_another_key_does_not_verify(card, google_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    token = google.save_url(card).removeprefix(google.SAVE_URL)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["RS256"], audience="google")


def test_the_card_page_offers_the_wallets_that_are_configured(client, card, google_key):
    page = client.get(path_of(card_page_url(card))).content.decode()
    assert "Add to Google Wallet" in page
    assert "Add to Apple Wallet" not in page


# --- sending the links -------------------------------------------------------------------------


def send(card):
    """Send, and commit: the messages go out once the transaction that queued them commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return card_links_send(organization=card.organization, card=card, actor=CLERK)


def test_links_go_to_every_subscribed_email_and_phone(card, caplog):
    ChannelFactory(customer=card.customer, type="email", value="tom@example.com")
    ChannelFactory(customer=card.customer, type="email", value="old@example.com", subscribed=False)
    ChannelFactory(customer=card.customer, type="mobile", value="+919804542631")

    with caplog.at_level("INFO", logger="loyalty.sms"):
        result = send(card)

    assert result.warnings == []
    assert [m.to for m in mail.outbox] == [["tom@example.com"]]
    assert card_page_url(card) in mail.outbox[0].body
    assert apple_wallet_url(card) in mail.outbox[0].body
    assert "SMS to +919804542631" in caplog.text
    deliveries = CardLinkDelivery.objects.order_by("channel")
    assert [(d.channel, d.address, d.status) for d in deliveries] == [
        ("email", "tom@example.com", "sent"),
        ("sms", "+919804542631", "sent"),
    ]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Coffee", "Your Coffee card"),
        ("Coffee card", "Your Coffee card"),
        ("Tea Card", "Your Tea Card"),
    ],
)
def test_the_message_names_the_card_once(card, name, title):
    card.stamp_card.name = name
    card.stamp_card.save()
    card.customer.phone = None
    card.customer.save()
    send(card)
    [message] = mail.outbox
    assert message.subject == title
    assert message.body.startswith(f"{title} ({card.code}) is ready.")


def test_the_sms_carries_one_short_link(card, recording_sms_bodies):
    card.stamp_card.name = "Coffee"
    card.stamp_card.save()
    card.customer.email = None
    card.customer.phone = "+919804542631"
    card.customer.save()
    send(card)
    [body] = recording_sms_bodies
    assert body == f"Your Coffee card ({card.code}) is ready: {card_page_url(card)}"
    assert apple_wallet_url(card) not in body
    assert google_wallet_url(card) not in body


def test_the_customers_own_email_is_used_when_no_email_channel_is_recorded(card):
    card.customer.phone = None
    card.customer.save()
    send(card)
    assert [m.to for m in mail.outbox] == [[card.customer.email]]


def test_nowhere_to_send_is_a_warning(card):
    customer = card.customer
    customer.email = customer.phone = None
    customer.save()
    ChannelFactory(customer=customer, type="email", value="no@example.com", subscribed=False)
    result = send(card)
    assert result.deliveries == []
    assert "no subscribed email address or phone number" in result.warnings[0]
    assert mail.outbox == []


def test_a_failed_delivery_is_recorded_not_raised(card, settings):
    settings.SMS_BACKEND = "tests.loyalty.test_card_links.BrokenSms"
    card.customer.email = None
    card.customer.save()
    result = send(card)
    [delivery] = result.deliveries
    assert (delivery.channel, delivery.status, delivery.detail) == ("sms", "failed", "gateway down")


class BrokenSms:
    def send(self, to, body):
        raise ConnectionError("gateway down")


class RecordingSms:
    """Notes, for each message, whether its delivery row was already committed."""

    sent: list = []

    def send(self, to, body):
        RecordingSms.sent.append(
            {
                "to": to,
                "in_a_transaction": connection.in_atomic_block,
                "row": list(
                    CardLinkDelivery.objects.filter(address=to).values_list("channel", "status")
                ),
            }
        )


class SmsBodies:
    bodies: list = []

    def send(self, to, body):
        SmsBodies.bodies.append(body)


@pytest.fixture
def recording_sms_bodies(settings):
    settings.SMS_BACKEND = "tests.loyalty.test_card_links.SmsBodies"
    SmsBodies.bodies = []
    return SmsBodies.bodies


@pytest.fixture
def recording_sms(settings):
    settings.SMS_BACKEND = "tests.loyalty.test_card_links.RecordingSms"
    RecordingSms.sent = []
    return RecordingSms.sent


@pytest.mark.django_db(transaction=True)
def test_links_are_sent_after_commit_once_their_delivery_row_is_written(recording_sms):
    card = CustomerCardFactory(customer__email=None, customer__phone="+919804542631")

    with transaction.atomic():
        result = card_links_send(organization=card.organization, card=card, actor=CLERK)
        assert recording_sms == []  # nothing goes out before the commit
        assert [d.status for d in result.deliveries] == ["queued"]

    assert recording_sms == [
        {"to": "+919804542631", "in_a_transaction": False, "row": [("sms", "queued")]}
    ]
    assert [d.status for d in result.deliveries] == ["sent"]
    assert CardLinkDelivery.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_send_sends_nothing(recording_sms):
    card = CustomerCardFactory(customer__email="tom@example.com", customer__phone="+919804542631")

    def send_then_fail():
        with transaction.atomic():
            card_links_send(organization=card.organization, card=card, actor=CLERK)
            raise RuntimeError("the caller's work failed")

    with pytest.raises(RuntimeError):
        send_then_fail()

    assert recording_sms == []
    assert mail.outbox == []
    assert not CardLinkDelivery.objects.exists()


@pytest.mark.parametrize("suffix", ["", "apple/", "google/"])
@pytest.mark.parametrize("token", ["%00", "x%00y", "two%20words"])
def test_a_card_link_that_is_no_token_finds_no_card(client, db, token, suffix):
    assert client.get(f"/cards/{token}/{suffix}").status_code == 404
