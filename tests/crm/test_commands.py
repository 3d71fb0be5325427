import io
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from crm.models import ApiKey, Organization, Store, User
from crm.services import api_key_digest
from customers.demo import DEMO_SLUG, MAX_DEMO_CUSTOMERS, demo_mobile
from customers.models import Customer, Identifier
from loyalty.models import CustomerCard, Enrollment, PointsTransaction, Program
from loyalty.points_rewards import PointsReward
from loyalty.returns import Return
from loyalty.services.tier_renewals import tiers_renew_due
from loyalty.tiers import Tier
from loyalty.transactions import EarningRule, Transaction

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def counts():
    return [
        model.objects.count()
        for model in (
            Organization,
            Store,
            User,
            ApiKey,
            Customer,
            Identifier,
            Enrollment,
            Tier,
            PointsTransaction,
            CustomerCard,
            EarningRule,
            Transaction,
            Return,
            PointsReward,
        )
    ]


def test_seed_demo_loads_a_working_organization_once():
    output = run("seed_demo", "--customers", "12")
    first = counts()
    again = run("seed_demo", "--customers", "12")

    assert counts() == first
    organization = Organization.objects.get(slug=DEMO_SLUG)
    assert organization.stores.count() == 2
    assert Tier.objects.filter(program__organization=organization).count() == 3
    assert Customer.objects.filter(organization=organization).count() == 12
    customer = Customer.objects.filter(organization=organization).first()
    assert customer.identifiers.count() == 2
    assert customer.channels.count() == 2
    assert customer.cards.get().stamps == 1
    assert ", 12 customers, " in output
    assert "nothing added" in again


def test_seed_demo_says_what_it_added_and_on_a_second_run_that_it_added_nothing():
    first = run("seed_demo", "--customers", "12").splitlines()[0]
    purchases, returns = Transaction.objects.count(), Return.objects.count()
    again = run("seed_demo", "--customers", "12").splitlines()[0]
    more = run("seed_demo", "--customers", "14").splitlines()[0]

    assert first == (
        "Demo organization 'demo': added 1 organization, 2 stores, 1 status label, "
        "2 coupon series, 1 programme, 3 tiers, 1 stamp card, 2 rewards, 5 earning rules, "
        f"1 points reward, 12 customers, {purchases} purchases, {returns} returns, 3 logins, "
        "1 API key."
    )
    assert again == "Demo organization 'demo': nothing added, the demo data is already there."
    assert more == (
        f"Demo organization 'demo': added 2 customers, {Transaction.objects.count() - purchases}"
        " purchases."
    )


def test_seed_demo_has_purchases_that_earned_by_its_rules_and_a_points_reward():
    run("seed_demo", "--customers", "12")

    organization = Organization.objects.get(slug=DEMO_SLUG)
    assert EarningRule.objects.filter(program__organization=organization).count() == 5
    purchases = Transaction.objects.filter(organization=organization)
    assert purchases.count() > 0
    earned = PointsTransaction.objects.filter(purchase__organization=organization)
    assert {row.purchase_id for row in earned} == set(purchases.values_list("pk", flat=True))
    assert PointsReward.objects.get(program__organization=organization).points_cost == 300
    program = Program.objects.get(organization=organization)
    assert (program.pending_days, program.clawback_policy) == (14, "allow_negative")
    returns = Return.objects.filter(organization=organization)
    assert returns.exists()
    assert all(row.lines.count() == 1 for row in returns)
    taken = PointsTransaction.objects.filter(purchase_return__organization=organization)
    assert {row.kind for row in taken} <= {"cancel", "clawback"}
    assert taken.exists()


def test_the_demo_programme_has_rolling_tiers_some_due_to_be_renewed_or_downgraded():
    run("seed_demo", "--customers", "24")

    organization = Organization.objects.get(slug=DEMO_SLUG)
    program = Program.objects.get(organization=organization)
    assert program.tier_window == "rolling_12_months"
    due = Enrollment.objects.filter(program=program, tier_expires_at__lte=timezone.now())
    assert due.count() > 0

    renewals = tiers_renew_due(organization=organization)

    assert renewals.renewed > 0
    assert renewals.downgraded > 0
    assert not due.exists()


def test_demo_mobiles_are_unique_at_any_size():
    # Drawn at random, the numbers of customers 2305 and 3533 were the same.
    assert len({demo_mobile(i) for i in range(5000)}) == 5000
    assert len({demo_mobile(i) for i in range(0, MAX_DEMO_CUSTOMERS, 997)}) == len(
        range(0, MAX_DEMO_CUSTOMERS, 997)
    )
    assert demo_mobile(MAX_DEMO_CUSTOMERS - 1) != demo_mobile(0)


def test_seed_demo_gives_each_customer_the_generators_mobile():
    run("seed_demo", "--customers", "40")

    phones = Customer.objects.filter(organization__slug=DEMO_SLUG).values_list("phone", flat=True)
    assert sorted(phones) == sorted(demo_mobile(i) for i in range(40))
    with pytest.raises(CommandError, match="between 0 and"):
        run("seed_demo", "--customers", str(MAX_DEMO_CUSTOMERS + 1))


def test_seed_demo_prints_a_login_and_a_key_that_work():
    output = run("seed_demo", "--customers", "0")
    password = output.split("password ")[1].split()[0]
    raw_key = output.split("Demo API key: ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    api_key = ApiKey.objects.get(key_hash=api_key_digest(raw_key))
    assert api_key.organization.slug == DEMO_SLUG
    for role in ("agent", "supervisor"):
        staff_password = output.split(f"user {role}  password ")[1].split()[0]
        staff = User.objects.get(username=role)
        assert staff.check_password(staff_password)
        assert list(staff.groups.values_list("name", flat=True)) == [role]
        assert staff.organization.slug == DEMO_SLUG
    # The same login and key again, without storing them anywhere but as hashes.
    assert run("seed_demo", "--customers", "0").splitlines()[1:] == output.splitlines()[1:]


def test_seed_demo_gives_the_admin_address_at_the_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8001"
    assert "Admin login:  http://127.0.0.1:8001/admin/  user admin" in run("seed_demo")


def test_seed_demo_does_not_show_a_changed_password_or_a_revoked_key():
    run("seed_demo", "--customers", "0")
    admin = User.objects.get(username="admin")
    admin.set_password("changed by the owner")
    admin.save()
    ApiKey.objects.update(revoked_at="2026-01-01T00:00:00Z")
    output = run("seed_demo", "--customers", "0")
    assert "password was changed" in output
    assert "revoked" in output


def test_create_api_key_prints_a_new_key_once():
    organization = Organization.objects.create(name="Acme", slug="acme")
    raw_key = run("create_api_key", "acme", "--name", "POS").strip()
    api_key = organization.api_keys.get()
    assert api_key.name == "POS"
    assert api_key.key_hash == api_key_digest(raw_key)
    assert run("create_api_key", "acme").strip() != raw_key


def test_create_api_key_for_an_unknown_organization_is_a_clear_error():
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        run("create_api_key", "nope")


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port():
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_check_port_fails_in_one_line_on_a_port_in_use(busy_port):
    result = subprocess.run(  # noqa: S603 - the project's own command
        [sys.executable, "manage.py", "check_port", f"127.0.0.1:{busy_port}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"CommandError: port {busy_port} on 127.0.0.1 is in use by another program: stop it, "
        f"or serve on another port (make run PORT={busy_port + 1})"
    ]


def test_check_port_passes_on_a_free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert run("check_port", f"127.0.0.1:{port}") == ""


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("127.0.0.1:http", "the port is a number from 1 to 65535, not 'http'"),
        ("127.0.0.1:70000", "the port is a number from 1 to 65535, not '70000'"),
        ("8000", "give the address as HOST:PORT, not '8000'"),
    ],
)
def test_check_port_refuses_a_malformed_address(address, message):
    with pytest.raises(CommandError) as raised:
        run("check_port", address)
    assert str(raised.value) == message


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_checks_the_port_before_it_migrates_and_serves_on_it():
    result = subprocess.run(
        ["make", "--dry-run", "--assume-old", ".venv/.installed", "run", "PORT=8001"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    steps = [
        line.split("manage.py ")[1] for line in result.stdout.splitlines() if "manage.py" in line
    ]

    assert steps[0] == "check_port 127.0.0.1:8001"
    assert steps[-1] == "runserver 127.0.0.1:8001"
    assert [step.split()[0] for step in steps[1:-1]] == ["migrate", "collectstatic", "seed_demo"]
    assert all("PORT=8001 " in line for line in result.stdout.splitlines() if "manage.py" in line)
