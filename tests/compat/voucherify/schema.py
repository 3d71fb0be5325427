"""What a client generated from Voucherify's public OpenAPI description demands of a customer
reply (schemas CustomerWithSummaryLoyaltyReferrals and the customers list), as JSON Schema.

Generated clients reject a reply that lacks a required property, carries null where the
description does not allow it, or has a value of another type; these schemas check exactly that.
"""

INTEGER = {"type": "integer"}
STRING = {"type": "string"}
DATE_TIME = {"type": "string", "format": "date-time"}


def strict(required: list[str], properties: dict, nullable: bool = False) -> dict:
    return {
        "type": ["object", "null"] if nullable else "object",
        "required": required,
        "properties": properties,
    }


def integers(*names: str) -> dict:
    return strict(list(names), dict.fromkeys(names, INTEGER))


REDEMPTIONS = strict(
    [
        "total_redeemed",
        "total_failed",
        "total_succeeded",
        "total_rolled_back",
        "total_rollback_failed",
        "total_rollback_succeeded",
        "gift",
        "loyalty_card",
    ],
    {
        **dict.fromkeys(
            (
                "total_redeemed",
                "total_failed",
                "total_succeeded",
                "total_rolled_back",
                "total_rollback_failed",
                "total_rollback_succeeded",
            ),
            INTEGER,
        ),
        "gift": integers("redeemed_amount", "amount_to_go"),
        "loyalty_card": integers("redeemed_points", "points_to_go"),
    },
)

CUSTOMER = strict(
    ["summary", "loyalty", "referrals", "object"],
    {
        "id": STRING,
        "source_id": STRING,
        "name": STRING,
        "description": STRING,
        "email": STRING,
        "phone": STRING,
        "birthdate": {"type": "string", "format": "date"},
        "birthday": {"type": "string", "format": "date"},
        "address": strict(
            [],
            dict.fromkeys(("city", "state", "line_1", "line_2", "country", "postal_code"), STRING),
            nullable=True,
        ),
        "summary": strict(
            ["redemptions", "orders"],
            {
                "redemptions": REDEMPTIONS,
                "orders": integers(
                    "total_amount", "total_count", "average_amount", "last_order_amount"
                ),
            },
            nullable=True,
        ),
        "loyalty": strict(
            ["points", "referred_customers", "campaigns"],
            {
                "points": INTEGER,
                "referred_customers": INTEGER,
                "campaigns": {
                    "type": "object",
                    "additionalProperties": strict(
                        [],
                        {"points": INTEGER, "loyalty_tier": STRING, "referred_customers": INTEGER},
                    ),
                },
            },
            nullable=True,
        ),
        "referrals": strict(
            ["total", "campaigns"],
            {
                "total": INTEGER,
                "campaigns": {
                    "type": "array",
                    "items": strict(
                        [
                            "campaign_id",
                            "referrer_id",
                            "related_object_id",
                            "related_object_type",
                            "date",
                        ],
                        {
                            "campaign_id": STRING,
                            "referrer_id": STRING,
                            "related_object_id": STRING,
                            "related_object_type": STRING,
                            "date": DATE_TIME,
                        },
                    ),
                },
            },
            nullable=True,
        ),
        "metadata": {"type": "object"},
        "system_metadata": {"type": "object"},
        "created_at": DATE_TIME,
        "updated_at": DATE_TIME,
        "object": {"enum": ["customer"]},
    },
)

CUSTOMERS_LIST = strict(
    ["object", "data_ref", "customers", "total"],
    {
        "object": {"enum": ["list"]},
        "data_ref": {"enum": ["customers"]},
        "customers": {"type": "array", "items": CUSTOMER},
        "total": INTEGER,
        "has_more": {"type": "boolean"},
    },
)

ERROR = strict(
    ["code", "message"],
    {
        "code": INTEGER,
        "key": STRING,
        "message": STRING,
        "details": STRING,
        "request_id": STRING,
        "resource_id": STRING,
        "resource_type": STRING,
    },
)
