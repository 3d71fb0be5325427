"""The admin's customer list and search at scale, each against the same SQL without the admin,
measured in the same run.

    createdb -h 127.0.0.1 -U postgres crm_admin_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_admin_bench \\
        .venv/bin/python -m bench.admin_bench --customers 1000000 --requests 20 --rounds 3

Loads the benchmark organization up to --customers (bench/dataset.py, COPY; an organization
already loaded is reused), logs a staff member of it in (group "agent", not a superuser) and
drives the real admin views in process with django.test.Client over one persistent database
connection, as a server worker would:

- the customer list's first page (/admin/customers/customer/);
- searches (?q=) by an email fragment, a phone fragment, an identifier value (whole and part)
  and a card code (whole and its first 6 characters), each term picked at random (seeded) from
  existing rows, a new one for every request, so that no cache flatters a repeated term;
- outside the target, two stress searches: phone digits shared by 1 % and by 10 % of the
  customers, to show how a search's cost grows with the customers it matches.

Server time is the Server-Timing header of bench/settings.py (the whole Django stack: session,
user, permissions, the view's queries, template rendering). The baseline is the page's own SQL
without the admin: the same queryset (the organization's live customers, newest first, with
their organization), searched with customers.membership.search.customer_search where the page
searches, sliced to a page of 100 and evaluated. Requests alternate with their baseline,
--requests of each a round, for --rounds rounds after a warm-up; medians, 95th percentiles and
maxima are reported, with the queries each page ran, the customers it counted, whether every
count was capped, and EXPLAIN ANALYZE of the slow queries of any page over the target (300 ms).
"""

import argparse
import datetime as dt
import os
import platform
import random
import re
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import django

from bench.report import percentile, postgres_version

TARGET_MS = 300.0
PAGE = 100  # CustomerAdmin.list_per_page
CHANGELIST = "/admin/customers/customer/"
STAFF_USERNAME = "admin-bench"
# Outside the target: fragments that 1 % and 10 % of the customers share, to show how the cost of
# a search grows with the number of customers it matches.
STRESS_1 = "stress: phone digits 2-6 (~1 %)"
STRESS_10 = "stress: phone digits 1-5 (~10 %)"


def setup(customers: int):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    # In process over plain HTTP: no TLS redirect; no collectstatic (see render_settings).
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("CONN_MAX_AGE", "600")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from bench.dataset import organization_with_customers

    return organization_with_customers(customers)


def staff_member(organization):
    """The benchmark's staff member: of the organization, in the "agent" group, not a superuser."""
    from django.contrib.auth.models import Group

    from crm.models import User

    user, _ = User.objects.get_or_create(
        username=STAFF_USERNAME, defaults={"organization": organization, "is_staff": True}
    )
    user.groups.add(Group.objects.get(name="agent"))
    return user


@dataclass
class Sample:
    """Existing rows to pick search terms from."""

    emails: list[str]
    phones: list[str]
    identifier_values: list[str]
    card_codes: list[str]


def sample(organization, rng: random.Random, size: int) -> Sample:
    """`size` customers of the organization at random (seeded): ids drawn from their id range."""
    from django.db.models import Max, Min

    from customers.models import Customer, Identifier
    from loyalty.models import CustomerCard

    customers = Customer.objects.filter(organization=organization)
    bounds = customers.aggregate(low=Min("pk"), high=Max("pk"))
    ids = rng.sample(range(bounds["low"], bounds["high"] + 1), size * 2)
    rows = list(customers.filter(pk__in=ids).order_by("pk").values("pk", "email", "phone"))
    rng.shuffle(rows)
    chosen = [row["pk"] for row in rows[:size]]
    values = list(
        Identifier.objects.filter(customer_id__in=chosen)
        .order_by("pk")
        .values_list("value", flat=True)
    )
    codes = list(
        CustomerCard.objects.filter(customer_id__in=chosen)
        .order_by("pk")
        .values_list("code", flat=True)
    )
    rng.shuffle(values)
    rng.shuffle(codes)
    return Sample(
        emails=[row["email"] for row in rows[:size] if row["email"]],
        phones=[row["phone"] for row in rows[:size] if row["phone"]],
        identifier_values=values,
        card_codes=codes,
    )


def fragment(text: str, length: int, rng: random.Random, *, start: int = 0, end: int = 0) -> str:
    """`length` characters of `text` at a random place between `start` and `len(text) - end`."""
    last = len(text) - end - length
    return text[rng.randint(start, max(start, last)) :][:length]


def searches(data: Sample, rng: random.Random) -> dict[str, Callable[[], str]]:
    """Each kind of search, as a function that gives a new term of it each time it is called.

    The dataset's phone numbers are +91 9000 and a six-digit serial number: a fragment across
    the shared "9000" matches a hundredth or a tenth of all customers, which no one searching
    for one customer types. The phone fragments of the target come from the varying digits;
    the two stress searches measure the shared ones, outside the target.
    """

    def cycle(values: list[str]) -> Iterator[str]:
        while True:
            yield from values

    emails, phones = cycle(data.emails), cycle(data.phones)
    values, codes = cycle(data.identifier_values), cycle(data.card_codes)

    def email_fragment() -> str:
        # Part of the local part, as someone reads it off a screen: 8 characters of it.
        return fragment(next(emails).split("@")[0], 8, rng)

    def national(phone: str) -> str:
        return phone.removeprefix("+91")

    def phone_fragment() -> str:
        # 5 or 6 digits from the middle of the ten (from the 4th to the next to last).
        return fragment(national(next(phones)), rng.choice((5, 6)), rng, start=3, end=1)

    def identifier_part() -> str:
        # Half of the value (8 characters at least), from within it: not its first 3
        # characters ("+91", a name's start) nor its last 3 (".com").
        value = next(values)
        return fragment(value, max(8, len(value) // 2), rng, start=3, end=3)

    return {
        "search: email fragment": email_fragment,
        "search: phone fragment": phone_fragment,
        "search: identifier value, whole": lambda: next(values),
        "search: identifier value, part": identifier_part,
        "search: card code, whole": lambda: next(codes),
        "search: card code, first 6": lambda: next(codes)[:6],
        # Digits 2-6 of the ten: "000" and the serial number's first two digits.
        STRESS_1: lambda: national(next(phones))[1:6],
        # Digits 1-5: "9000" and the serial number's first digit.
        STRESS_10: lambda: national(next(phones))[:5],
    }


@dataclass
class Figures:
    server_ms: list[list[float]] = field(default_factory=list)  # per round
    baseline_ms: list[list[float]] = field(default_factory=list)
    queries: set[int] = field(default_factory=set)
    matches: list[int] = field(default_factory=list)  # as the page counts them, capped
    slowest: tuple[float, str, list[dict]] = (0.0, "", [])


def render_settings():
    """Pages render without collectstatic, as in the tests (the manifest storage would only
    look each name up in a dictionary)."""
    from django.conf import settings
    from django.test.utils import override_settings

    return override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )


def admin_page(client, term: str | None) -> tuple[float, list[dict], int]:
    """Server-side milliseconds of one admin list page, the queries it ran, and the number of
    customers it says match (capped: CappedCountPaginator)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST, {"q": term} if term is not None else {})
    if response.status_code != 200:
        raise SystemExit(f"{CHANGELIST}?q={term}: {response.status_code}")
    paginator = re.search(r'<p class="paginator">(.*?)</p>', response.text, re.S).group(1)
    matches = int(re.search(r"([\d,]+)\+? customers?\b", paginator).group(1).replace(",", ""))
    server_ms = float(response["Server-Timing"].split("dur=")[1])
    return server_ms, list(queries.captured_queries), matches


def bare_page(organization, term: str | None) -> float:
    """Milliseconds of the page's own SQL without the admin."""
    from customers.membership.search import customer_search
    from customers.models import Customer

    started = time.perf_counter()
    queryset = (
        Customer.objects.filter(organization=organization, merged_into__isnull=True)
        .select_related("organization")
        .order_by("-created_at", "-pk")
    )
    if term is not None:
        queryset = customer_search(queryset, organization=organization, text=term)
    list(queryset[:PAGE])
    return (time.perf_counter() - started) * 1000


def explain(queries: list[dict], over_ms: float = 20.0) -> None:
    """EXPLAIN ANALYZE of each query that took longer than `over_ms` (the slowest at least)."""
    from django.db import connection

    chosen = [q for q in queries if float(q["time"]) * 1000 > over_ms]
    chosen = chosen or [max(queries, key=lambda q: float(q["time"]))]
    for query in chosen:
        print(f"\n    -- {float(query['time']) * 1000:.1f} ms: {query['sql'][:400]}")
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            for (line,) in cursor.fetchall():
                print(f"    {line}")


def no_full_count(queries: list[dict]) -> bool:
    """True when every COUNT the page ran was capped (counts a LIMITed subquery)."""
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    return all("LIMIT" in sql.upper() for sql in counts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20, help="of each page, each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=5, help="requests of each page first")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    organization, customers = setup(args.customers)
    from django.test import Client

    rng = random.Random(args.seed)
    kinds = searches(sample(organization, rng, 1000), rng)
    pages: dict[str, Callable[[], str | None]] = {"list, first page": lambda: None, **kinds}
    figures = {name: Figures() for name in pages}
    capped = True

    client = Client()
    client.force_login(staff_member(organization))
    with render_settings():
        for term_of in pages.values():
            for _ in range(args.warmup):
                term = term_of()
                admin_page(client, term)
                bare_page(organization, term)
        for _ in range(args.rounds):
            for fig in figures.values():
                fig.server_ms.append([])
                fig.baseline_ms.append([])
            for _ in range(args.requests):
                # Interleaved, so that a noisy moment falls on every kind of page alike.
                for name, term_of in pages.items():
                    fig, term = figures[name], term_of()
                    server_ms, queries, matches = admin_page(client, term)
                    fig.server_ms[-1].append(server_ms)
                    fig.baseline_ms[-1].append(bare_page(organization, term))
                    fig.queries.add(len(queries))
                    fig.matches.append(matches)
                    capped = capped and no_full_count(queries)
                    if server_ms > fig.slowest[0]:
                        fig.slowest = (server_ms, term or "", queries)

    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{postgres_version()}; {dt.datetime.now(dt.UTC):%Y-%m-%d}"
    )
    print(f"Customers in the benchmark organization: {customers:,}")
    print(
        f"\nAdmin pages as a staff member ('agent'), server-side ms; {args.rounds} rounds of "
        f"{args.requests} requests each, a new term each request (warm-up {args.warmup}).\n"
        f"Baseline: the page's own SQL (page of {PAGE}) without the admin, evaluated in the same "
        "loop."
    )
    header = (
        f"  {'page':34} {'p50':>7} {'p95':>7} {'max':>7} {'>300':>5}  {'baseline p50':>12} "
        f"{'ratio':>6}  {'queries':>7}  {'matches':>17}  rounds: p50, p95"
    )
    print(header)
    over = []
    for name, fig in figures.items():
        every = [ms for round_ in fig.server_ms for ms in round_]
        p50 = statistics.median(statistics.median(r) for r in fig.server_ms)
        p95 = percentile(every, 95)
        base = statistics.median(statistics.median(r) for r in fig.baseline_ms)
        runs = " / ".join(
            f"{statistics.median(r):.1f}, {percentile(r, 95):.1f}" for r in fig.server_ms
        )
        queries = "/".join(str(n) for n in sorted(fig.queries))
        matches = (
            f"{counted(statistics.median_low(fig.matches))} "
            f"({counted(min(fig.matches))}-{counted(max(fig.matches))})"
        )
        slow = sum(ms > TARGET_MS for ms in every)
        print(
            f"  {name:34} {p50:7.1f} {p95:7.1f} {max(every):7.1f} {slow:5}  {base:12.1f} "
            f"{p50 / base:5.1f}x  {queries:>7}  {matches:>17}  ({runs})"
        )
        if fig.slowest[0] > TARGET_MS:
            over.append(name)
    print(
        "\n  p50: median of the rounds' medians; p95, max: of every request; >300: requests over"
        f" {TARGET_MS:.0f} ms, of {args.rounds * args.requests}\n  queries: per page, in every"
        " request | matches: customers the page counts (median, range; capped)"
    )
    print(f"  every COUNT capped (no full-table count): {'yes' if capped else 'NO'}")
    missed = [name for name in over if name not in (STRESS_1, STRESS_10)]
    missed_text = ", ".join(missed) or "none"
    print(f"  pages of the target over {TARGET_MS:.0f} ms at least once: {missed_text}")
    for name in over:
        ms, term, queries = figures[name].slowest
        print(f"\n  {name}: slowest {ms:.0f} ms, q={term!r}; its slow queries, re-run:")
        explain(queries)


def counted(n: int) -> str:
    from crm.admin_paging import CappedCountPaginator

    return f"{n:,}+" if n >= CappedCountPaginator.CAP else f"{n:,}"


if __name__ == "__main__":
    main()
