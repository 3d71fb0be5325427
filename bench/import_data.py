"""A realistic customer file for the import benchmark, written as the import reads it (CSV).

Each customer has a name, an email, a mobile phone (written as people write them: national,
with spaces, or with a country code), a birthday, an external id, two identifiers (their email
and a loyalty card number) and one channel (their email, primary). One row in ten repeats an
earlier row (the same customer exported twice); one in a hundred is invalid (an email without a
domain or a phone number that cannot exist).
"""

import csv
import datetime as dt
import gzip
import random
from pathlib import Path

from .dataset import DOMAINS, FIRST_NAMES, LAST_NAMES

COLUMNS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "external_id",
    "source",
    "identifiers",
    "channels",
]


def customer_row(n: int, rng: random.Random) -> list[str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{first}.{last}{n}@{rng.choice(DOMAINS)}".lower()
    digits = f"{9_000_000_000 + n}"
    phone = rng.choice([digits, f"{digits[:5]} {digits[5:]}", f"+91 {digits}"])
    birthday = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(55 * 365))
    card = f"C{n:09d}"
    return [
        first,
        last,
        email,
        phone,
        birthday.isoformat(),
        f"ext-{n}",
        "INSTORE",
        f"email:{email};cardnumber:{card}",
        f"email:{email}[primary]",
    ]


def write(path: Path, rows: int, *, seed: int = 11) -> dict:
    """Write `rows` rows; what they are made of."""
    rng = random.Random(seed)
    written: list[list[str]] = []  # for repeats: a sample of earlier rows, kept small
    made = {"rows": rows, "repeats": 0, "invalid": 0, "customers": 0}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(COLUMNS)
        for _ in range(rows):
            roll = rng.random()
            if roll < 0.10 and written:
                out.writerow(rng.choice(written))
                made["repeats"] += 1
                continue
            row = customer_row(made["customers"], rng)
            made["customers"] += 1
            if roll < 0.11:
                made["invalid"] += 1
                if rng.random() < 0.5:
                    row[2] = row[2].split("@")[0] + "@"  # an email without a domain
                else:
                    row[3] = "12"  # no such phone number
            out.writerow(row)
            if len(written) < 50_000:
                written.append(row)
            else:
                written[rng.randrange(len(written))] = row
    return made
