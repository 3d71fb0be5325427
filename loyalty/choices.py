"""The fixed value sets of loyalty's fields: ledger kinds, reasons, statuses and channels."""

from django.db import models


class PointsKind(models.TextChoices):
    AWARD = "award"
    DEDUCT = "deduct"
    EXPIRE = "expire"
    # A merge of two customers enrolled in the same programme moves the merged customer's
    # remaining lots: out of its enrolment, into the survivor's.
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    # A return takes back what its purchase earned: points still pending are cancelled, points
    # already spendable are clawed back as the programme's clawback policy says.
    CANCEL = "cancel"
    CLAWBACK = "clawback"


# The kinds of ledger row that add points, and those that take them away.
POINTS_IN = [PointsKind.AWARD, PointsKind.TRANSFER_IN]
POINTS_OUT = [
    PointsKind.DEDUCT,
    PointsKind.EXPIRE,
    PointsKind.TRANSFER_OUT,
    PointsKind.CANCEL,
    PointsKind.CLAWBACK,
]


# The ledger rows whose points count towards a tier in a programme that qualifies on points
# earned in a window (loyalty.services.tier_changes.qualifying_figure).
QUALIFYING_POINTS_KINDS = (PointsKind.AWARD,)


class TierBasis(models.TextChoices):
    """What a programme's tiers are reached by."""

    POINTS = "points", "Points earned"
    SPEND = "spend", "Purchase spend"


class TierWindow(models.TextChoices):
    """Over what time the figure a tier is reached by is counted; with a window, tiers expire."""

    LIFETIME = "lifetime", "Lifetime (tiers never expire)"
    ROLLING_12_MONTHS = "rolling_12_months", "The last 12 months"
    CALENDAR_YEAR = "calendar_year", "The calendar year"


class TierChangeReason(models.TextChoices):
    ENROLMENT = "enrolment", "Given at enrolment"
    SET = "set", "Set by staff"
    THRESHOLD = "threshold", "Reached its threshold"
    MERGE = "merge", "Kept from a merged enrolment"
    # At the end of a tier period (loyalty.services.tier_renewals):
    RENEWAL = "renewal", "Renewed for another period"
    UPGRADE = "upgrade", "Upgraded at the end of its period"
    DOWNGRADE = "downgrade", "Downgraded at the end of its period"
    RETURN = "return", "Lost when a return took back its points"


class ClawbackPolicy(models.TextChoices):
    """What a return takes of purchase points that are already spendable (pending ones are always
    cancelled)."""

    WITHIN_BALANCE = "within_balance", "Take what the balance holds, record the shortfall"
    ALLOW_NEGATIVE = "allow_negative", "Take it all: the balance may go below zero"
    PENDING_ONLY = "pending_only", "Take back pending points only"


class StripType(models.TextChoices):
    """What fills the strip of a card's wallet pass; uploaded strip images are not kept."""

    COLOR = "color", "Colour"
    PRESET = "preset", "Preset image"


class CardStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class StampKind(models.TextChoices):
    ADD = "add"
    REDEEM = "redeem"
    ADJUST = "adjust"


class DeliveryChannel(models.TextChoices):
    EMAIL = "email"
    SMS = "sms"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued"  # written with the change that asked for it, sent once that commits
    SENT = "sent"
    FAILED = "failed"


class EarningKind(models.TextChoices):
    """What an earning rule does; the stage it belongs to decides when it applies."""

    BASE_RATE = "base_rate", "Points per currency unit spent"
    MINIMUM_SPEND = "minimum_spend", "Minimum spend"
    CATEGORY_MULTIPLIER = "category_multiplier", "Multiplier by category"
    SKU_MULTIPLIER = "sku_multiplier", "Multiplier by SKU"
    TIER_MULTIPLIER = "tier_multiplier", "Multiplier by tier"
    FIRST_PURCHASE_BONUS = "first_purchase_bonus", "Bonus for the first purchase"
    BIRTHDAY_BONUS = "birthday_bonus", "Bonus on the customer's birthday"
    TRANSACTION_CAP = "transaction_cap", "Cap per transaction"
    DAILY_CAP = "daily_cap", "Cap per customer per day"


class Rounding(models.TextChoices):
    DOWN = "down"
    NEAREST = "nearest"
    UP = "up"
