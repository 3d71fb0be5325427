"""The fixed sets of values that customer fields take, each held by a check constraint."""

from django.db import models


class Source(models.TextChoices):
    FACEBOOK = "FACEBOOK"
    WEB_ENGAGE = "WEB_ENGAGE"
    WECHAT = "WECHAT"
    INSTORE = "INSTORE"
    MARTJACK = "MARTJACK"
    TMALL = "TMALL"
    TAOBAO = "TAOBAO"
    JD = "JD"
    ECOMMERCE = "ECOMMERCE"
    WEBSITE = "WEBSITE"
    LINE = "LINE"
    MOBILE_APP = "MOBILE_APP"


# Sources where a brand has several accounts (pages, official accounts): a customer's profile in
# them is addressed by source and account id together.
MULTI_ACCOUNT_SOURCES = frozenset({Source.FACEBOOK, Source.WECHAT, Source.LINE})


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    DELETED = "deleted", "Deleted"
    FRAUD_SUSPECTED = "fraud_suspected", "Fraud suspected"
    FRAUD_CONFIRMED = "fraud_confirmed", "Fraud confirmed"
    INTERNAL = "internal", "Internal"
    PENDING_DELETION = "pending_deletion", "Pending deletion"


class LoyaltyType(models.TextChoices):
    LOYALTY = "loyalty", "Loyalty"
    NON_LOYALTY = "non_loyalty", "Non-loyalty"


class IdentifierType(models.TextChoices):
    MOBILE = "mobile"
    EMAIL = "email"
    EXTERNAL_ID = "externalId"
    CARDNUMBER = "cardnumber"
    CUID = "cuid"
    UNION_ID = "unionId"
    LINE = "line"
    WECHAT = "wechat"


class ChannelType(models.TextChoices):
    MOBILE = "mobile"
    EMAIL = "email"
    WECHAT = "wechat"
    IOS = "ios"
    ANDROID = "android"
    LINE = "line"
    MOBILE_PUSH = "mobilePush"
    CARDNUMBER = "cardnumber"


class ExtendedFieldType(models.TextChoices):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"


class ExtendedFieldScope(models.TextChoices):
    CUSTOMER = "customer"
    TRANSACTION = "transaction"
    LINE_ITEM = "line_item", "Line item"


class ImportStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
