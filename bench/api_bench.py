"""API throughput and latency, each against a plain JsonResponse baseline measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench \\
        .venv/bin/python -m bench.api_bench --customers 1000000

Loads the benchmark organization up to --customers (bench/dataset.py, COPY), serves the product
with gunicorn (2 sync workers, persistent connections, Redis for the rate counter) and drives it
over loopback with wrk (apt-get install wrk):

- requests/s of the plain view, the customer detail and a list page of 50, in alternating
  rounds (medians reported, and each as a ratio of the plain view's);
- search latency (email fragment, phone fragment, name, card code) and the latency of a batch
  upsert of 100 new customers, sequentially, server-side (the Server-Timing header) and round trip.
"""

import argparse
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import django

from bench.report import percentile, postgres_version
from bench.server import start_gunicorn

BASE_DIR = Path(__file__).resolve().parent.parent
PORT = 8001


def setup(customers: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from bench.dataset import organization_with_customers

    organization, _ = organization_with_customers(customers)
    return sample(organization)


def sample(organization) -> dict:
    from customers.models import Customer
    from loyalty.models import CustomerCard

    from .dataset import organization_for_bench

    rows = list(
        Customer.objects.filter(organization=organization)
        .order_by("?")
        .values("pk", "public_id", "first_name", "last_name", "email", "phone")[:400]
    )
    codes = list(
        CustomerCard.objects.filter(organization=organization)
        .order_by("?")
        .values_list("code", flat=True)[:200]
    )
    searches = {
        "email fragment": [r["email"].split("@")[0][-9:] for r in rows[:100]],
        "phone fragment": [r["phone"][-8:] for r in rows[100:200]],
        "name": [f"{r['first_name']} {r['last_name']}" for r in rows[200:300]],
        "card code": [code[3:10] for code in codes[:100]],
    }
    return {
        "api_key": organization_for_bench("bench")[3],
        "pks": [r["pk"] for r in rows],
        "public_ids": [r["public_id"] for r in rows],
        "searches": searches,
    }


def start_server() -> subprocess.Popen:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    return start_gunicorn(PORT, settings="bench.settings", redis_url=redis_url)


def wrk(paths: list[str], headers: dict, duration: int) -> float:
    """Requests a second for GETs of `paths` (picked at random), 2 threads, 16 connections."""
    script = "local paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
    script += (
        "local headers = {"
        + ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items())
        + "}\n"
    )
    script += (
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(#paths)], headers)\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        out = subprocess.run(
            ["wrk", "-t2", "-c16", f"-d{duration}s", "-s", lua.name, f"http://127.0.0.1:{PORT}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def timed(
    connection, method: str, path: str, headers: dict, body=None, *, expect_all_created=False
) -> tuple[float, float]:
    """Server-side and round-trip milliseconds of one request."""
    started = time.perf_counter()
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    content = response.read()
    round_trip = (time.perf_counter() - started) * 1000
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status}")
    if expect_all_created:
        statuses = {result["status"] for result in json.loads(content)["results"]}
        if statuses != {"created"}:
            raise SystemExit(f"batch items not all created: {content[:500]}")
    server = float(response.getheader("Server-Timing").split("dur=")[1])
    return server, round_trip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    data = setup(args.customers)
    auth = {"Authorization": f"Bearer {data['api_key']}"}
    server = start_server()
    try:
        scenarios = {
            "plain JsonResponse (baseline)": (
                [f"/plain/customers/{pk}/" for pk in data["pks"]],
                {},
            ),
            "customer detail": ([f"/api/v1/customers/{i}/" for i in data["public_ids"]], auth),
            "customer list, page of 50": (["/api/v1/customers/?page_size=50"], auth),
        }
        for paths, headers in scenarios.values():  # warm up connections and caches
            wrk(paths, headers, 2)
        rates = {name: [] for name in scenarios}
        for _ in range(args.rounds):
            for name, (paths, headers) in scenarios.items():
                rates[name].append(wrk(paths, headers, args.duration))

        connection = http.client.HTTPConnection("127.0.0.1", PORT)
        search = {}
        for kind, terms in data["searches"].items():
            timings = [
                timed(connection, "GET", f"/api/v1/customers/?search={t.replace(' ', '+')}", auth)
                for t in terms
            ]
            search[kind] = timings
        batches = []
        run = int(time.time()) % 10**6
        for b in range(30):
            items = []
            for i in range(100):
                n = (run * 100 + b) * 100 + i
                items.append(
                    {
                        "first_name": "Batch",
                        "last_name": f"Item{i}",
                        "email": f"batch{n}@bench.example",
                        "phone": f"+447{n % 10**9:09d}",
                        "source_accounts": [
                            {
                                "source": "ECOMMERCE",
                                "identifiers": [{"type": "externalId", "value": f"ext-{n}"}],
                            }
                        ],
                        "channels": [
                            {"type": "email", "value": f"batch{n}@bench.example", "primary": True}
                        ],
                    }
                )
            body = json.dumps({"customers": items})
            batches.append(
                timed(
                    connection,
                    "POST",
                    "/api/v1/customers/batch/",
                    {**auth, "Content-Type": "application/json"},
                    body,
                    expect_all_created=True,
                )
            )
    finally:
        server.terminate()
        server.wait()

    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {postgres_version()}"
    )
    print(f"Customers in the benchmark organization: {args.customers:,}")
    print(
        f"\nThroughput (wrk, 2 threads, 16 connections, {args.rounds} rounds of "
        f"{args.duration}s; medians):"
    )
    baseline = statistics.median(rates["plain JsonResponse (baseline)"])
    for name, values in rates.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:,.0f}" for v in values)
        print(f"  {name:32} {median:8,.0f} req/s  {median / baseline:6.0%} of plain   ({runs})")
    print("\nSearch, 100 queries each (server-side ms, round trip ms):")
    for kind, timings in search.items():
        server_ms, trip_ms = [t[0] for t in timings], [t[1] for t in timings]
        p50, p95 = percentile(server_ms, 50), percentile(server_ms, 95)
        print(
            f"  {kind:16} p50 {p50:6.1f}  p95 {p95:6.1f}"
            f"   (round trip p95 {percentile(trip_ms, 95):6.1f})"
        )
    server_ms = [t[0] for t in batches]
    trip_ms = [t[1] for t in batches]
    print(
        f"\nBatch upsert of 100 new customers, 30 calls: p50 {percentile(server_ms, 50):.0f} ms "
        f"server-side (round trip p50 {percentile(trip_ms, 50):.0f} ms)"
    )


if __name__ == "__main__":
    main()
