"""Importing a batch of records: customer_upsert's rules, at database speed.

Every record is an upsert (or, by mode, only a create or only an update) and fails or succeeds
alone. A batch is checked first, with customer_upsert's validation in customer_upsert's order
(so a record is refused with the error it would get alone), then applied in one transaction
(runs.customers_import commits it together with the run's checkpoint):

- a record whose digest is the one that last wrote its customer, who has not changed since, is
  unchanged without further work (importing the same file again);
- records that register a new customer with nothing but a profile, source accounts, identifiers
  and channels, colliding with no customer and with no other record, are written set-wise
  (COPY on PostgreSQL);
- every other record goes through customer_upsert itself, in file order.

tests/customers/test_import_engine.py holds the result to record-by-record customer_upsert.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.choices import ImportStatus
from customers.membership.upsert import customer_match, customer_upsert
from customers.models import Customer, ImportRun
from customers.services.writer import (
    ImportStamp,
    NewCustomer,
    collision_keys,
    keys_held,
    new_customers_write,
)
from customers.validation import (
    TAKEN_CODES,
    PreloadedConfiguration,
    clean_accounts,
    clean_channels,
    clean_profile,
    fill_from_identifiers,
)
from loyalty.models import CustomerCard, Enrollment
from loyalty.services.points import points_award
from loyalty.services.stamps import MAX_STAMPS_PER_CALL, stamps_add

from .reading import Reader
from .records import Record, unreadable
from .statistics import PlannerStatistics

MODES = ("upsert", "create", "update")


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass
class RowResult:
    record: Record
    outcome: Outcome
    error: DomainError | None = None
    customer_id: int | None = None  # of a record applied alone


@dataclass
class Checked:
    """A record after the checks that need no database."""

    record: Record
    error: DomainError | None = None
    # Set when the record, if it finds no customer, registers one with only rows of its own.
    candidate: NewCustomer | None = None
    keys: set[tuple] = field(default_factory=set)
    # Not read nor checked: its digest was, when read, the last write of an unchanged customer.
    recognised: bool = False


UNIDENTIFIED = DomainError(
    ErrorCode.REQUIRED,
    "A record needs an email, a phone, an external id or an identifier to be imported.",
    field="email",
)


def check_record(
    organization: Organization, preloaded: PreloadedConfiguration, record: Record
) -> Checked:
    """customer_upsert's validation, in its order: the lookup keys, the source accounts, the
    profile, the channels. Programmes, cards and referrers are checked by customer_upsert."""
    if record.error is not None:
        return Checked(record, error=record.error)
    data = record.data
    try:
        match_by = record.match_by
        if match_by is None:
            match_by = {name: getattr(data, name) or None for name in TAKEN_CODES}
        keys_by = clean_profile(organization, {k: v or None for k, v in match_by.items()})
        accounts = clean_accounts(organization, data.source_accounts)
        profile = clean_profile(organization, data.given(), preloaded)
        channels = clean_channels(organization, data.channels)
    except DomainError as error:
        return Checked(record, error=error)
    except DatabaseError:
        raise  # the database's trouble, not the record's
    except Exception as error:  # whatever breaks on one record fails it alone
        return Checked(record, error=unreadable(error))
    fill_from_identifiers(profile, accounts)
    candidate = NewCustomer(profile, accounts, channels)
    keys = collision_keys(candidate) | {(name, value) for name, value in keys_by.items() if value}
    if not keys:
        # An import upserts: a record that nothing identifies could never be found again, and
        # importing its file twice would register its customer twice.
        return Checked(record, error=UNIDENTIFIED)
    simple = not (data.enrollments or data.stamp_card_ids or data.referral_code)
    return Checked(record, candidate=candidate if simple else None, keys=keys)


class Importer:
    """Applies checked batches of records to one organization."""

    def __init__(
        self,
        organization: Organization,
        reader: Reader,
        *,
        mode: str,
        actor: Actor,
        run: ImportRun | None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode is one of {', '.join(MODES)}")
        self.organization = organization
        self.reader = reader
        self.preloaded = PreloadedConfiguration.of(organization)
        self.mode = mode
        self.actor = actor
        self.run = run
        self.earlier_runs = _earlier_runs(run)
        self.statistics = PlannerStatistics(
            CUSTOMER_TABLES,
            lambda: Customer.objects.filter(organization=self.organization).count(),
        )

    def read(self, records: list[Record], *, recognise: bool) -> list[Checked]:
        """Check a batch as it is read; with `recognise`, records imported before whose
        customers have not changed since are recognised by digest and not even read."""
        current = self._current_digests(records) if recognise else {}
        return [
            Checked(record, recognised=True)
            if record.digest in current
            else check_record(self.organization, self.preloaded, self.reader.load(record))
            for record in records
        ]

    # --- a batch --------------------------------------------------------------------------

    def apply(self, batch: list[Checked]) -> list[RowResult]:
        """Apply the batch, in order; call inside a transaction."""
        results: list[RowResult | None] = [None] * len(batch)
        fresh = [c for c in batch if c.candidate is not None]
        taken = keys_held(self.organization, set().union(*(c.keys for c in fresh)))
        # Only records of existing customers can be unchanged: ask for those digests alone.
        current = self._current_digests(
            [
                c.record
                for c in batch
                if c.recognised or (c.error is None and (c.candidate is None or c.keys & taken))
            ]
        )
        pending: list[tuple[int, Checked]] = []
        pending_keys: set[tuple] = set()
        written: set[str] = set()  # digests applied set-wise since the last record applied alone

        def flush() -> None:
            for index, failed in self._write_new(pending):
                results[index] = self._apply_alone(failed)
            taken.update(pending_keys)  # held by the customers just written
            pending.clear()
            pending_keys.clear()
            written.clear()

        for index, checked in enumerate(batch):
            record = checked.record
            if checked.recognised and record.digest not in current:
                # Its customer changed since it was read: read and check it, and apply it alone.
                checked = check_record(self.organization, self.preloaded, self.reader.load(record))
                checked.candidate = None
            if checked.error is not None:
                results[index] = RowResult(record, Outcome.FAILED, checked.error)
            elif record.digest in current or record.digest in written:
                results[index] = RowResult(record, Outcome.UNCHANGED)
            elif (
                checked.candidate is not None
                and not checked.keys & taken
                and not checked.keys & pending_keys
            ):
                if self.mode == "update":
                    results[index] = RowResult(record, Outcome.FAILED, _no_customer())
                    continue
                pending.append((index, checked))
                pending_keys.update(checked.keys)
                written.add(record.digest)
                results[index] = RowResult(record, Outcome.CREATED)
            else:
                flush()
                results[index] = result = self._apply_alone(checked)
                # The record may have given its keys to a customer, and changed one whose
                # digest was current.
                taken |= checked.keys
                if result.customer_id is not None:
                    current = {d: c for d, c in current.items() if c != result.customer_id}
        flush()
        self.statistics.written(sum(r.outcome == Outcome.CREATED for r in results))
        return results

    def _current_digests(self, records: list[Record]) -> dict[str, int]:
        """The records' digests that are the last write of a customer unchanged since, with
        the customer's id."""
        digests = [record.digest for record in records]
        if not digests:
            return {}
        if connection.vendor == "postgresql":  # one array parameter, not a long IN list
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT c.import_digest, c.id FROM unnest(%s::text[]) AS v(digest), LATERAL "
                    "(SELECT import_digest, id FROM customers_customer WHERE organization_id = %s "
                    "AND import_digest = v.digest AND imported_at = updated_at LIMIT 1) AS c",
                    [digests, self.organization.pk],
                )
                return dict(cursor.fetchall())
        return dict(
            Customer.objects.filter(
                organization=self.organization,
                import_digest__in=digests,
                imported_at=F("updated_at"),
            ).values_list("import_digest", "pk")
        )

    def _apply_alone(self, checked: Checked) -> RowResult:
        """The record through customer_upsert (or its create or update half), alone."""
        record = checked.record
        data = self.reader.load(record).data
        try:
            with transaction.atomic():
                existing = customer_match(
                    organization=self.organization, data=data, match_by=record.match_by
                )
                if existing is not None and self._as_an_earlier_run_left(existing):
                    return RowResult(record, Outcome.UNCHANGED)
                if existing is None and self.mode == "update":
                    return RowResult(record, Outcome.FAILED, _no_customer())
                if existing is not None and self.mode == "create":
                    return RowResult(
                        record,
                        Outcome.FAILED,
                        DomainError(
                            ErrorCode.CUSTOMER_EXISTS,
                            "A customer with these details exists; --mode upsert updates it.",
                            field="",
                        ),
                    )
                before = _loyalty_of(existing) if record.balances or record.stamps else None
                result = customer_upsert(
                    organization=self.organization,
                    data=data,
                    match_by=record.match_by,
                    actor=self.actor,
                )
                if before is not None:
                    self._carry_over(result.customer, record, before)
        except DomainError as error:
            return RowResult(record, Outcome.FAILED, error)
        if result.created:
            outcome = Outcome.CREATED
        elif result.changed:
            outcome = Outcome.UPDATED
        else:
            outcome = Outcome.UNCHANGED
        self._remember(result.customer.pk, record.digest, wrote=outcome != Outcome.UNCHANGED)
        return RowResult(record, outcome, customer_id=result.customer.pk)

    def _as_an_earlier_run_left(self, customer: Customer) -> bool:
        """Whether the customer is as a finished run of this same file and settings left them:
        that run applied all of the file's rows for them, in order, so applying them again
        changes nothing (with several rows for one customer, no one row's digest is enough)."""
        return (
            customer.import_run_id in self.earlier_runs
            and customer.imported_at == customer.updated_at
        )

    def _carry_over(self, customer: Customer, record: Record, before: tuple[set, set]) -> None:
        """Bring the enrolments and cards the record just made (not those the customer had) to
        the balances and stamps it carries over."""
        enrolled, carded = before
        for enrollment in Enrollment.objects.filter(customer=customer, program__in=record.balances):
            missing = record.balances[enrollment.program_id] - enrollment.points_balance
            if enrollment.program_id not in enrolled and missing > 0:
                points_award(
                    organization=self.organization,
                    enrollment=enrollment,
                    points=missing,
                    reason="Balance carried over by an import",
                    actor=self.actor,
                )
        for card in CustomerCard.objects.filter(customer=customer, stamp_card__in=record.stamps):
            missing = record.stamps[card.stamp_card_id] - card.stamps
            while card.stamp_card_id not in carded and missing > 0:
                step = min(missing, MAX_STAMPS_PER_CALL)
                stamps_add(
                    organization=self.organization,
                    card=card,
                    stamps=step,
                    reason="Stamps carried over by an import",
                    actor=self.actor,
                )
                missing -= step

    def _remember(self, customer_id: int, digest: str, *, wrote: bool) -> None:
        """Record which record last wrote the customer. An unchanged customer keeps the digest
        of the record that wrote it, unless it has none still valid."""
        rows = Customer.objects.filter(pk=customer_id)
        if not wrote:
            rows = rows.filter(Q(import_digest__isnull=True) | ~Q(imported_at=F("updated_at")))
        rows.update(import_digest=digest, imported_at=F("updated_at"), import_run=self.run)

    # --- writing new customers set-wise ---------------------------------------------------

    def _write_new(self, pending: list[tuple[int, Checked]]) -> list[tuple[int, Checked]]:
        """Register the pending records' customers set-wise; those that could not be (a
        concurrent writer took a key meanwhile) are returned, to go one by one."""
        if not pending:
            return []
        stamp = ImportStamp(self.run, [checked.record.digest for _, checked in pending])
        try:
            with transaction.atomic():
                new_customers_write(
                    self.organization,
                    [checked.candidate for _, checked in pending],
                    actor=self.actor,
                    imported=stamp,
                )
        except IntegrityError:
            return list(pending)
        return []


CUSTOMER_TABLES = (
    "customers_customer",
    "customers_sourceaccount",
    "customers_identifier",
    "customers_commchannel",
)


def _earlier_runs(run: ImportRun | None) -> set[int]:
    """The finished runs of the same file (by content) and settings as `run`."""
    if run is None or not run.content_digest:
        return set()
    return set(
        ImportRun.objects.filter(
            organization_id=run.organization_id,
            content_digest=run.content_digest,
            settings_digest=run.settings_digest,
            status=ImportStatus.FINISHED,
        )
        .exclude(pk=run.pk)
        .values_list("pk", flat=True)
    )


def _loyalty_of(customer: Customer | None) -> tuple[set[int], set[int]]:
    """The programmes the customer is enrolled in and the stamp cards they hold."""
    if customer is None:
        return set(), set()
    return (
        set(Enrollment.objects.filter(customer=customer).values_list("program_id", flat=True)),
        set(CustomerCard.objects.filter(customer=customer).values_list("stamp_card_id", flat=True)),
    )


def _no_customer() -> DomainError:
    return DomainError(
        ErrorCode.NOT_FOUND,
        "No customer has these details; --mode upsert registers one.",
        field="",
    )
