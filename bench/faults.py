"""Exactly-once under faults: stamps and points sent with Idempotency-Keys while things break.

    .venv/bin/python -m bench.faults [--requests 200] [--clients 4]

Uses its own PostgreSQL database (DATABASE_URL, by default
postgres://postgres@127.0.0.1:5432/crm_faults), created and migrated here, with a small benchmark
organization (bench/dataset.py) and an API key. It serves the product with gunicorn (2 sync
workers, DEBUG=0, persistent connections) on 127.0.0.1 and sends a stream of stamp and points
requests, each with its own Idempotency-Key and its own ledger reason, from a few client threads.
Each client retries a request with the same key until it gets an answer below 500 (at most
--attempts times, backing off). Meanwhile, one scenario each:

1. a gunicorn worker is killed with SIGKILL, three times;
2. every database connection of the server is terminated (pg_terminate_backend), three times;
3. the server runs with REDIS_URL pointing at a closed port (no Redis at all).

Per scenario it prints the requests sent, the effects expected (requests finally answered 2xx),
the effects found in the ledgers (rows carrying the requests' reasons, and their totals), the
requests with more than one ledger row, the 5xx answers and connection failures the clients saw,
and the requests still unresolved when their attempts ran out. Exactly-once means found ==
expected and no duplicates. Only 127.0.0.1 is contacted; the script stops by itself.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import django
import psycopg

from bench.server import start_gunicorn

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_faults"
REDIS_URL = "redis://127.0.0.1:6379/1"
SLUG = "faults"
FAULTS_PER_SCENARIO = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def create_database(url: str) -> None:
    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def setup(customers: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.config.settings")
    django.setup()
    from bench.dataset import organization_for_bench, organization_with_customers
    from loyalty.models import CustomerCard, Enrollment

    organization, _ = organization_with_customers(customers, slug=SLUG)
    _, program, _, raw_key = organization_for_bench(SLUG)
    cards = list(
        CustomerCard.objects.filter(organization=organization).values_list("code", flat=True)[:50]
    )
    enrolled = list(
        Enrollment.objects.filter(program=program).values_list("customer__public_id", flat=True)[
            :50
        ]
    )
    return {"api_key": raw_key, "program_id": program.pk, "cards": cards, "customers": enrolled}


class Server:
    def __init__(self, redis_url: str, log_dir: Path, name: str):
        self.port = free_port()
        self.log = open(log_dir / f"gunicorn-{name}.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = start_gunicorn(
            self.port,
            settings="crm.config.settings",
            redis_url=redis_url,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def workers(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@dataclass
class Tally:
    sent: int = 0
    server_errors: int = 0
    connection_failures: int = 0
    replayed: int = 0
    unresolved: int = 0
    stamps_expected: list[int] = field(default_factory=list)
    points_expected: list[int] = field(default_factory=list)
    finals: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def requests_for(data: dict, run: str, count: int) -> list[dict]:
    """Alternately a stamp and a points award, each with its own key and ledger reason."""
    requests = []
    for i in range(count):
        reason = f"{run}-{i}"
        if i % 2 == 0:
            amount = 1 + i % 3
            path = f"/api/v1/cards/{data['cards'][i % len(data['cards'])]}/stamps/"
            body = {"stamps": amount, "reason": reason}
            kind = "stamps"
        else:
            amount = 1 + i % 7
            customer = data["customers"][i % len(data["customers"])]
            path = f"/api/v1/customers/{customer}/points/"
            body = {
                "program_id": data["program_id"],
                "action": "award",
                "points": amount,
                "reason": reason,
            }
            kind = "points"
        requests.append(
            {"kind": kind, "amount": amount, "path": path, "body": json.dumps(body), "key": reason}
        )
    return requests


def client(port: int, api_key: str, work: queue.Queue, tally: Tally, attempts: int, deadline):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while True:
        try:
            request = work.get_nowait()
        except queue.Empty:
            return
        with tally.lock:
            tally.sent += 1
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": request["key"],
        }
        status = None
        for attempt in range(attempts):
            if time.monotonic() > deadline:
                break
            try:
                connection.request("POST", request["path"], body=request["body"], headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                with tally.lock:
                    tally.connection_failures += 1
                status = None
            if status is not None and status < 500:
                break
            if status is not None:
                with tally.lock:
                    tally.server_errors += 1
            status = None
            time.sleep(min(0.1 * 2**attempt, 1.0))
        with tally.lock:
            if status is None:
                tally.unresolved += 1
                continue
            tally.finals[status] = tally.finals.get(status, 0) + 1
            if response.getheader("Idempotent-Replayed") == "true":
                tally.replayed += 1
            if 200 <= status < 300:
                expected = (
                    tally.stamps_expected if request["kind"] == "stamps" else tally.points_expected
                )
                expected.append(request["amount"])


def terminate_connections() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


def kill_a_worker(server: Server) -> int:
    [worker, *_] = server.workers()
    os.kill(worker, signal.SIGKILL)
    return worker


def run_scenario(fault, server, data, args, run) -> dict:
    tally = Tally()
    work: queue.Queue = queue.Queue()
    requests = requests_for(data, run, args.requests)
    for request in requests:
        work.put(request)
    deadline = time.monotonic() + args.seconds
    threads = [
        threading.Thread(
            target=client,
            args=(server.port, data["api_key"], work, tally, args.attempts, deadline),
        )
        for _ in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    faults_done = 0
    while any(thread.is_alive() for thread in threads):
        taken = args.requests - work.qsize()
        # The faults fall at a quarter, half and three quarters of the stream.
        due = args.requests * (faults_done + 1) / (FAULTS_PER_SCENARIO + 1)
        if fault and faults_done < FAULTS_PER_SCENARIO and taken >= due:
            fault(server)
            faults_done += 1
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    return {"tally": tally, "found": ledger(run), "faults": faults_done}


def ledger(run: str) -> dict:
    from django.db.models import Count, Sum

    from loyalty.models import PointsTransaction, StampTransaction

    found = {}
    for kind, rows, amount in (
        ("stamps", StampTransaction.objects.filter(reason__startswith=f"{run}-"), "stamps"),
        ("points", PointsTransaction.objects.filter(reason__startswith=f"{run}-"), "points"),
    ):
        found[kind] = {
            "rows": rows.count(),
            "total": rows.aggregate(total=Sum(amount))["total"] or 0,
            "duplicated": rows.values("reason").annotate(n=Count("id")).filter(n__gt=1).count(),
        }
    return found


def report(name: str, result: dict) -> bool:
    tally, found = result["tally"], result["found"]
    expected = {
        "stamps": (len(tally.stamps_expected), sum(tally.stamps_expected)),
        "points": (len(tally.points_expected), sum(tally.points_expected)),
    }
    exact = all(
        (found[kind]["rows"], found[kind]["total"]) == expected[kind] for kind in expected
    ) and not any(found[kind]["duplicated"] for kind in found)
    print(f"\n{name} ({result['faults']} faults injected)")
    print(f"  requests sent            {tally.sent}")
    print(f"  final answers            {dict(sorted(tally.finals.items()))}")
    print(f"  of them replayed         {tally.replayed}")
    print(f"  unresolved (gave up)     {tally.unresolved}")
    print(f"  5xx answers seen         {tally.server_errors}")
    print(f"  connection failures      {tally.connection_failures}")
    for kind in ("stamps", "points"):
        rows, total = expected[kind]
        print(
            f"  {kind:6} expected {rows:4} rows / {total:5} total, "
            f"found {found[kind]['rows']:4} rows / {found[kind]['total']:5} total, "
            f"duplicated {found[kind]['duplicated']}"
        )
    print(f"  exactly once             {'yes' if exact else 'NO'}")
    return exact


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200, help="per scenario")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--attempts", type=int, default=10, help="per request, same key")
    parser.add_argument("--seconds", type=int, default=120, help="at most, per scenario")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument(
        "--scenarios", default="1,2,3", help="which of 1 (kill), 2 (database), 3 (Redis)"
    )
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        raise SystemExit("bench.faults needs PostgreSQL (DATABASE_URL=postgres://...)")
    create_database(os.environ["DATABASE_URL"])
    data = setup(args.customers)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    scenarios = {
        "1": ("1. a worker killed with SIGKILL", kill_a_worker, REDIS_URL),
        "2": ("2. database connections terminated", lambda _: terminate_connections(), REDIS_URL),
        "3": ("3. Redis unreachable", None, f"redis://127.0.0.1:{free_port()}/0"),
    }
    print(
        f"bench.faults {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: {args.requests} requests "
        f"per scenario from {args.clients} clients, up to {args.attempts} attempts each; "
        f"gunicorn 2 workers, {os.cpu_count()} cores"
    )
    all_exact = True
    log_dir = Path(tempfile.mkdtemp(prefix="crm-faults-"))
    print(f"server logs in {log_dir}")
    for number in args.scenarios.split(","):
        name, fault, redis_url = scenarios[number.strip()]
        server = Server(redis_url, log_dir, number)
        try:
            result = run_scenario(fault, server, data, args, f"faults-{stamp}-{number}")
        finally:
            server.stop()
        # The target: every request answered below 500, and each applied exactly once.
        all_exact &= report(name, result) and result["tally"].unresolved == 0
    sys.exit(0 if all_exact else 1)


if __name__ == "__main__":
    main()
