"""Tenancy core: organizations (the tenants), their stores, staff users and API keys."""

import phonenumbers
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models


def validate_region(value: str) -> None:
    if value and value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{value!r} is not a two-letter region code known to phonenumbers")


class Organization(models.Model):
    """A brand running loyalty programmes: every piece of customer data belongs to exactly one."""

    TENANT_PATH = "pk"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    default_region = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_region],
        help_text="ISO 3166 region (e.g. IN, US) used to read phone numbers given without a "
        "country code. Blank: such numbers are refused.",
    )
    api_requests_per_minute = models.PositiveIntegerField(
        default=600, help_text="How many API requests each of its API keys may make a minute."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    TENANT_PATH = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stores")
    code = models.CharField(max_length=64, help_text="Till or store code, e.g. 'bukl.till'.")
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"], name="uniq_store_code_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class StaffManager(UserManager):
    # Every admin page shows the staff member's organization: load it with the user.
    def get_queryset(self):
        return super().get_queryset().select_related("organization")


class User(AbstractUser):
    """A staff member. Staff see only their organization's data; superusers see every tenant."""

    TENANT_PATH = "organization"

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
    )

    objects = StaffManager()


class ApiKey(models.Model):
    """An integrator's credential. Only a SHA-256 digest of the key is stored."""

    TENANT_PATH = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters of the key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The response to a write sent with an Idempotency-Key, replayed to its retries.

    It is inserted and completed in the transaction that does the work (crm.api.idempotency), so
    a committed record always holds its response.
    """

    TENANT_PATH = "api_key__organization"

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)  # null only before its commit
    response_body = models.JSONField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="uniq_idempotency_key"),
        ]

    def __str__(self) -> str:
        return self.key


class PendingJob(models.Model):
    """A background job written in the transaction that asked for it, until the broker has it.

    A row is deleted once its job is handed to the broker; one left behind (the broker was down)
    is sent again by crm.background.pending_jobs_send.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"


class RecordedChange(models.Model):
    """What every audit record holds: the change, who made it, from which request, and when."""

    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    actor = models.CharField(max_length=200)
    actor_context = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the caller said of its user (user-context headers).",
    )
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]


class ConfigurationChange(RecordedChange):
    """One change to an organization's configuration (a store, an API key, a programme, …), from
    any door, with its before and after values and who made it.

    Customers' own changes are `customers.AuditEvent`s, kept apart so that a customer's history
    and erasure never touch these.
    """

    TENANT_PATH = "organization"

    # Blank for the global extended-field definitions, which belong to no organization.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=32, help_text="What kind of object: store, tier, …")
    object_id = models.PositiveBigIntegerField(help_text="Kept when the object is deleted.")
    object_repr = models.CharField(max_length=200, help_text="The object, as people name it.")
    action = models.CharField(max_length=16)

    class Meta(RecordedChange.Meta):
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="config_change_by_org"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.object_repr} {self.action} by {self.actor}"
