"""The single customer view: customers, their source accounts, identifiers and channels.

Rules that span rows (matching identifiers across sources, validating extended fields) live in
`customers.services`; what one row must satisfy is declared here, as database constraints.
"""

import secrets

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from crm.db import choices_check
from crm.models import Organization, RecordedChange, Store

from .choices import (
    ChannelType,
    CustomerStatus,
    ExtendedFieldScope,
    ExtendedFieldType,
    IdentifierType,
    ImportStatus,
    LoyaltyType,
    Source,
)


class StatusLabel(models.Model):
    """An organization's own name for a customer status (e.g. "active-1" for Active)."""

    TENANT_PATH = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="status_labels"
    )
    name = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=CustomerStatus.choices)
    is_default = models.BooleanField(
        default=False, help_text="Given to new customers registered without a status label."
    )
    may_earn = models.BooleanField(default=True, help_text="Its customers earn points and stamps.")
    may_spend = models.BooleanField(
        default=True, help_text="Its customers spend points, stamps, coupons."
    )

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("name"), name="uniq_status_label_name_per_org"
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(is_default=True),
                name="one_default_status_label_per_org",
            ),
            choices_check("status", CustomerStatus, "status_label_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"


def new_public_id() -> str:
    return "cust_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


class Customer(models.Model):
    TENANT_PATH = "organization"

    # Indexes: every lookup of customers starts with the organization, so the composite indexes
    # below serve it; single-column indexes would only slow writes (bulk imports above all).
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="customers", db_index=False
    )
    public_id = models.CharField(max_length=32, default=new_public_id, editable=False)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # Optional unique values are NULL when absent, so that many customers can lack one.
    # Stored lower-case (a check constraint holds it), so a plain unique index is case-insensitive.
    email = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    email_verified = models.BooleanField(default=False)
    # E.164, e.g. +919804542631.
    phone = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    birthday = models.DateField(null=True, blank=True)
    address_line1 = models.CharField(max_length=255, blank=True)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    loyalty_type = models.CharField(
        max_length=12, choices=LoyaltyType.choices, default=LoyaltyType.LOYALTY
    )
    status = models.CharField(
        max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE
    )
    status_label = models.ForeignKey(
        StatusLabel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    extended_fields = models.JSONField(default=dict, blank=True)
    registered_store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    referral_code = models.CharField(max_length=16, editable=False)
    referred_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals",
        db_index=False,
    )
    # Set on the customer merged into another: what remains of it is a tombstone whose old id
    # still resolves to the survivor. Always the final survivor (merges re-point older tombstones).
    # Deleting the survivor deletes its tombstones: everything of a customer goes with it.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="merged_away",
        db_index=False,
        editable=False,
    )
    # Set when the customer's personal data was erased (right to be forgotten).
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Any change to the customer's data moves it: its profile, identifiers or channels.
    updated_at = models.DateTimeField(auto_now=True)
    # The digest of the import row that last wrote the customer, and the customer's updated_at
    # then: while they still match, importing that row again changes nothing and can be skipped.
    import_digest = models.CharField(max_length=32, null=True, blank=True, editable=False)  # noqa: DJ001
    imported_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The run of that row. A customer left so by a finished run of the same file and settings
    # is, after all of that file's rows for them, as they were: a rerun skips every one of them.
    # (Never looked up by run, so no index.)
    import_run = models.ForeignKey(
        "ImportRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_index=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="uniq_customer_public_id"),
            models.UniqueConstraint(fields=["organization", "email"], name="uniq_customer_email"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="customer_email_lower"),
            models.UniqueConstraint(fields=["organization", "phone"], name="uniq_customer_phone"),
            models.CheckConstraint(condition=Q(phone__startswith="+"), name="customer_phone_e164"),
            models.UniqueConstraint(
                fields=["organization", "external_id"], name="uniq_customer_external_id"
            ),
            models.UniqueConstraint(
                fields=["organization", "referral_code"], name="uniq_customer_referral_code"
            ),
            models.CheckConstraint(
                condition=~Q(referred_by=F("pk")), name="customer_not_self_referred"
            ),
            choices_check("loyalty_type", LoyaltyType, "customer_loyalty_type_valid"),
            choices_check("status", CustomerStatus, "customer_status_valid"),
            models.CheckConstraint(
                condition=~Q(merged_into=F("pk")), name="customer_not_merged_into_itself"
            ),
        ]
        permissions = [
            ("add_stamps", "Can add stamps and redeem rewards"),
            ("send_card_links", "Can resend card links"),
            ("adjust_points", "Can award and deduct points"),
            ("merge_customer", "Can merge customers"),
            ("erase_customer", "Can erase a customer's personal data"),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="customer_org_created"),
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="customer_merged_into",
            ),
            # Mostly NULL columns: index only the rows that have a value.
            models.Index(
                fields=["referred_by"],
                condition=Q(referred_by__isnull=False),
                name="customer_referred_by",
            ),
            models.Index(
                fields=["registered_store"],
                condition=Q(registered_store__isnull=False),
                name="customer_registered_store",
            ),
            models.Index(
                fields=["status_label"],
                condition=Q(status_label__isnull=False),
                name="customer_status_label",
            ),
            models.Index(
                fields=["organization", "import_digest"],
                condition=Q(import_digest__isnull=False),
                name="customer_import_digest",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or self.public_id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SourceAccount(models.Model):
    """A customer's presence in one source (and account, for multi-account sources).

    The name and custom fields a source sent are kept here, apart from the customer's own.
    """

    TENANT_PATH = "customer__organization"

    # uniq_source_account starts with the customer: it is the index for this key.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="source_accounts", db_index=False
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    account_id = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "source", "account_id"], name="uniq_source_account"
            ),
            choices_check("source", Source, "source_account_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.account_id}" if self.account_id else self.source


class Identifier(models.Model):
    """A value that identifies a customer within one source account.

    `organization`, `customer`, `source` and `account_id` repeat the source account's so that
    the database itself can hold "no two customers share an identifier within the same
    organization, source and account id".
    """

    TENANT_PATH = "organization"

    # identifier_lookup and the unique constraint start with the organization.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identifiers")
    source_account = models.ForeignKey(
        SourceAccount, on_delete=models.CASCADE, related_name="identifiers"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    account_id = models.CharField(max_length=64, blank=True)
    type = models.CharField(max_length=16, choices=IdentifierType.choices)
    value = models.CharField(max_length=255)
    series_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Card series (cardnumber identifiers)."
    )
    status_label = models.CharField(
        max_length=32, blank=True, help_text="Card status, e.g. ACTIVE, INACTIVE, EXPIRED."
    )
    extended_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer", "source", "account_id", "type", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source", "account_id", "type", "value"],
                name="uniq_identifier_per_source_account",
            ),
            choices_check("source", Source, "identifier_source_valid"),
            choices_check("type", IdentifierType, "identifier_type_valid"),
        ]
        indexes = [
            models.Index(fields=["organization", "type", "value"], name="identifier_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.type}={self.value}"


class CommChannel(models.Model):
    TENANT_PATH = "customer__organization"

    # uniq_channel_per_customer starts with the customer: it is the index for this key.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="channels", db_index=False
    )
    type = models.CharField(max_length=16, choices=ChannelType.choices)
    value = models.CharField(max_length=255)
    primary = models.BooleanField(default=False)
    verified = models.BooleanField(default=False)
    subscribed = models.BooleanField(default=True)
    residence = models.BooleanField(default=False)
    office = models.BooleanField(default=False)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer", "type", "-primary", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "type", "value"], name="uniq_channel_per_customer"
            ),
            models.UniqueConstraint(
                fields=["customer", "type"],
                condition=Q(primary=True),
                name="one_primary_channel_per_type",
            ),
            choices_check("type", ChannelType, "channel_type_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.type}: {self.value}"


class ExtendedFieldDefinition(models.Model):
    """A field an organization (or, with no organization, every organization) may set.

    An organization's definition takes precedence over a global one of the same name and scope.
    """

    TENANT_PATH = "organization"

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="extended_field_definitions",
        help_text="Blank: available to every organization.",
    )
    name = models.SlugField(max_length=64)
    data_type = models.CharField(max_length=10, choices=ExtendedFieldType.choices)
    allowed_values = models.JSONField(
        default=list, blank=True, help_text="For enums: the list of allowed values."
    )
    scope = models.CharField(
        max_length=12, choices=ExtendedFieldScope.choices, default=ExtendedFieldScope.CUSTOMER
    )

    class Meta:
        ordering = ["scope", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "scope", "name"],
                condition=Q(organization__isnull=False),
                name="uniq_extended_field_per_org",
            ),
            models.UniqueConstraint(
                fields=["scope", "name"],
                condition=Q(organization__isnull=True),
                name="uniq_global_extended_field",
            ),
            choices_check("data_type", ExtendedFieldType, "extended_field_type_valid"),
            choices_check("scope", ExtendedFieldScope, "extended_field_scope_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.data_type})"


class AuditEvent(RecordedChange):
    """One change to a customer's data, from any door, and who made it."""

    TENANT_PATH = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    # Kept when the customer is deleted, so that the deletion itself stays on record.
    customer_public_id = models.CharField(max_length=32)
    subject = models.CharField(max_length=32, help_text="What changed: customer, identifier, …")
    action = models.CharField(max_length=32)

    class Meta(RecordedChange.Meta):
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="audit_by_customer"),
            # Events of no one customer: an import batch's, which lists the customers it wrote.
            models.Index(
                fields=["organization", "created_at"],
                condition=Q(customer__isnull=True),
                name="audit_unlinked_by_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.action} by {self.actor}"


class ImportRun(models.Model):
    """One import of a file, checkpointed with every batch it commits.

    A run of the same file (by content) with the same settings that finds an unfinished run
    resumes after its last committed line instead of starting over.
    """

    TENANT_PATH = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    file_path = models.CharField(
        max_length=500, db_column="source", help_text="The file imported, as given."
    )
    content_digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the file; blank for standard input."
    )
    settings_digest = models.CharField(max_length=32, help_text="Format, mode and options.")
    format = models.CharField(max_length=16)
    mode = models.CharField(max_length=8)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    line = models.PositiveBigIntegerField(
        default=0, help_text="The last line of the file whose row is committed."
    )
    rows = models.PositiveBigIntegerField(default=0)
    created = models.PositiveBigIntegerField(default=0)
    updated = models.PositiveBigIntegerField(default=0)
    unchanged = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    errors_path = models.CharField(max_length=500, blank=True)
    errors_size = models.PositiveBigIntegerField(
        default=0, help_text="Bytes of the error report that belong to committed rows."
    )
    actor = models.CharField(max_length=200)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "content_digest", "settings_digest"],
                condition=Q(status="running"),
                name="import_run_resumable",
            ),
        ]
        constraints = [choices_check("status", ImportStatus, "import_run_status_valid")]

    def __str__(self) -> str:
        return f"import of {self.file_path} ({self.status})"
