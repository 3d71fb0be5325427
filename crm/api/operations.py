"""Each operation's summary and description in the OpenAPI schema, by operation id.

One table for the whole API, so that the texts read as one document and none repeats another
(tests/crm/test_api_schema_docs.py); crm.api.schema.ApiAutoSchema places them and warns about an
operation missing here, which fails `spectacular --fail-on-warn`.
"""

OPERATIONS: dict[str, tuple[str, str]] = {
    # Customers
    "customers_list": (
        "List customers",
        "The organization's customers in cursor pages, ordered by `ordering`. `search` "
        "matches every word against names, email, phone, identifier values and card codes; "
        "`external_id`, `email`, `phone` and `identifier=<type>:<value>` are exact, indexed "
        "lookups read as registration reads them.",
    ),
    "customers_create": (
        "Register a customer",
        "Registers a customer with nested source accounts and identifiers, channels, custom and "
        "extended fields, enrolments, stamp cards and a referral code: 201 with the customer, "
        "its `warnings` and `side_effects`. Identifiers already registered in another source "
        "add a source account to that customer instead (200, `created: false`). A registration "
        "needs a name, an email, a phone, an external id, an identifier or a channel.",
    ),
    "customers_retrieve": (
        "Get a customer",
        "The whole customer: source accounts with their identifiers, channels, fields, status "
        "and each enrolment with `points_balance`, `points_pending` and `points_earned`. A "
        "merged customer's old id answers with the customer it was merged into.",
    ),
    "customers_partial_update": (
        "Change a customer",
        "Changes the fields given and leaves the others as they are; identifiers change through "
        "their own routes. An erased customer no longer changes: 409 `customer_closed`.",
    ),
    "customers_destroy": (
        "Delete a customer",
        "Deletes the customer and what belongs to them; an erased customer may still be deleted.",
    ),
    "customers_batch_create": (
        "Upsert up to 100 customers",
        "Up to 100 upserts, each succeeding or failing alone, the results in the request's "
        "order. More than 100 items is refused and nothing is written.",
    ),
    "customers_identifiers_list": (
        "List a customer's identifiers",
        "The identifiers of every source account of the customer, with their source and type.",
    ),
    "customers_identifiers_create": (
        "Add an identifier",
        "Adds an identifier to one of the customer's source accounts (created if the customer "
        "has none of that source); a value already in that source account is 409.",
    ),
    "customers_identifiers_partial_update": (
        "Change an identifier",
        "Changes an identifier's value or card details; its type and source account stay (a "
        "new type is 422 `identifier_immutable`).",
    ),
    "customers_identifiers_destroy": (
        "Remove an identifier",
        "Removes the identifier from its source account; the customer's other identifiers stay.",
    ),
    "customers_channels_list": (
        "List a customer's channels",
        "The customer's communication channels, each primary, verified or subscribed or not.",
    ),
    "customers_channels_create": (
        "Add a channel",
        "Adds a communication channel (email, SMS, WeChat, …); a channel the "
        "customer already has is 409 `channel_taken`.",
    ),
    "customers_channels_partial_update": (
        "Change a channel",
        "Changes a channel's value or its primary, verified and subscribed flags.",
    ),
    "customers_channels_destroy": (
        "Remove a channel",
        "Removes the communication channel; the customer is no longer reached through it.",
    ),
    "customers_points_list": (
        "List a customer's points ledger",
        "The customer's points ledger, newest first, filtered by `program_id` and `kind` "
        "(`cancel` and `clawback` are what returns took back); a pending award shows its "
        "`activates_at`.",
    ),
    "customers_points_create": (
        "Award or deduct points",
        "Awards or deducts points in one programme, with a reference recorded once: the reply's "
        "`balance` is what may be spent, `pending` the points not yet spendable. A deduction "
        "beyond the balance is 422 `insufficient_points`; a customer who may not earn or spend "
        "is 409.",
    ),
    "customers_cards_list": (
        "List a customer's stamp cards",
        "The customer's stamp cards with their stamps, goal, status and wallet links.",
    ),
    "customers_cards_create": (
        "Issue a stamp card",
        "Enrols the customer in a stamp card: the reply has the card, its welcome stamps in "
        "`side_effects` and any `warnings`.",
    ),
    "customers_transactions_list": (
        "List a customer's purchases",
        "The customer's purchases, newest recorded first, each with its returns; the filters of "
        "`transactions/`, in cursor pages.",
    ),
    "customers_rewards_redeem_create": (
        "Redeem a points reward",
        "No body: spends the reward's points, takes a unit of its stock and issues its coupon. "
        "201 with the `redemption`, the new `balance` and `side_effects`; refusals are "
        "`insufficient_points`, `out_of_stock`, `redemption_limit_reached`, `inactive` (422), "
        "`spending_blocked` (409) and `reward_unknown` (404).",
    ),
    # Cards
    "cards_retrieve": (
        "Get a stamp card",
        "A customer's card by its code, with its progress towards each reward and its public "
        "page and wallet links.",
    ),
    "cards_stamps_create": (
        "Add stamps",
        "Adds stamps to the card; a customer who may not earn is 409 `earning_blocked`.",
    ),
    "cards_redeem_create": (
        "Redeem a card reward",
        "Spends the reward's stamps; too few stamps is 422 `insufficient_stamps`, a customer "
        "who may not spend 409 `spending_blocked`.",
    ),
    "cards_send_links_create": (
        "Send a card's links",
        "Sends the card's page and wallet links to the customer by email and SMS.",
    ),
    # Purchases and returns
    "transactions_list": (
        "List purchases",
        "The organization's purchases, newest recorded first, each with its `returned_amount` "
        "and returns; filter by `customer`, `store`, `external_id`, `occurred_after` and "
        "`occurred_before`.",
    ),
    "transactions_create": (
        "Record a purchase",
        "Records a purchase and earns its points by each programme's earning rules: 201 with "
        "the transaction, the points earned (active and pending), the rules applied, any tier "
        "change and `side_effects`. The same `external_id` again answers 200 with the first "
        "reply and earns nothing more.",
    ),
    "transactions_retrieve": (
        "Get a purchase",
        "One purchase with its lines, its `returned_amount` and its returns, each with its lines.",
    ),
    "transactions_batch_create": (
        "Record up to 100 purchases",
        "Up to 100 purchases, each the body of `POST transactions/`, recorded or refused alone; "
        "the results follow the request's order, each with the status and reply recording it "
        "alone would have had. A purchase recorded before, or earlier in the batch, is "
        "`already_recorded`. More than 100 is refused and nothing is written.",
    ),
    "transactions_returns_create": (
        "Record a return",
        "Gives back `lines` (SKU and quantity each) or an `amount` of the purchase: 201 with "
        "what each programme took back (pending points cancelled, spendable ones clawed back by "
        "its clawback policy, any shortfall) and the tier changes; the same `external_id` again "
        "answers 200 with the first reply. More than is left is 422 `return_exceeds_purchase`.",
    ),
    # Loyalty configuration
    "programs_list": (
        "List programmes",
        "The organization's loyalty programmes with their tier settings and tiers; programmes "
        "are configured in the admin.",
    ),
    "programs_retrieve": (
        "Get a programme",
        "One programme: `tier_basis`, `tier_window`, `tier_period_months` and its tiers with "
        "their points and spend thresholds.",
    ),
    "programs_earning_rules_list": (
        "List a programme's earning rules",
        "The programme's earning rules in the order they apply within a stage: rates, "
        "multipliers, bonuses and caps.",
    ),
    "programs_simulate_create": (
        "Simulate a purchase",
        "What a purchase (`currency`, `lines`, optional `customer`, `store`, `occurred_at`) "
        "would earn in the programme now, rule by rule; nothing is written.",
    ),
    "programs_rewards_list": (
        "List a programme's points rewards",
        "The programme's rewards bought with points, cheapest first, with their stock and "
        "per-customer limit; not paged.",
    ),
    "stamp_cards_list": (
        "List stamp card designs",
        "The stamp cards customers may be issued, with their goal, rewards and initial stamps.",
    ),
    "stamp_cards_retrieve": (
        "Get a stamp card design",
        "One stamp card design with its rewards and their stamp costs.",
    ),
    "coupons_list": (
        "List coupons",
        "The organization's issued coupons, filtered by customer, series and redeemed state.",
    ),
    "coupons_create": (
        "Issue a coupon",
        "Issues a coupon of a series to a customer; the series' validity sets its expiry.",
    ),
    "coupons_retrieve": (
        "Get a coupon",
        "A coupon by its code, with its series, customer, expiry and whether it was redeemed.",
    ),
    "coupons_redeem_create": (
        "Redeem a coupon",
        "Marks the coupon used; one used or expired is 422, one whose customer may not spend "
        "409 `spending_blocked`.",
    ),
    # Organization configuration
    "stores_list": (
        "List stores",
        "The organization's stores by code, each with its name and whether it is active.",
    ),
    "stores_create": (
        "Create a store",
        "Adds a store; its code is unique within the organization (409 `store_code_taken`).",
    ),
    "stores_retrieve": ("Get a store", "One store by its id, with its code, name and state."),
    "stores_partial_update": (
        "Change a store",
        "Renames a store or marks it active or inactive; its code stays.",
    ),
    "extended_fields_list": (
        "List extended fields",
        "The extended fields the organization may set on customers: its own and the global "
        "ones, with their types and allowed values.",
    ),
    "extended_fields_create": (
        "Create an extended field",
        "Defines an extended field of the organization with its type and, for an enum, its "
        "allowed values; a name taken is 409 `extended_field_taken`.",
    ),
    "extended_fields_retrieve": (
        "Get an extended field",
        "One extended field with its scope, type and allowed values.",
    ),
    "extended_fields_partial_update": (
        "Change an extended field",
        "Changes the allowed values of one of the organization's own extended fields; the "
        "global ones are read-only (403).",
    ),
    "extended_fields_destroy": (
        "Delete an extended field",
        "Deletes one of the organization's own extended fields; the global ones are "
        "read-only (403).",
    ),
    "status_labels_list": (
        "List status labels",
        "The organization's status labels, each with its status, `is_default`, `may_earn` and "
        "`may_spend`.",
    ),
    "status_labels_create": (
        "Create a status label",
        "Adds a status label; without the flags it gets them by its status (suspended and fraud "
        "statuses may neither earn nor spend).",
    ),
    "status_labels_retrieve": (
        "Get a status label",
        "One status label with its status and whether its customers may earn and spend.",
    ),
    "status_labels_partial_update": (
        "Change a status label",
        "Changes the fields given; the earning and spending flags stay unless the status changes.",
    ),
    "status_labels_destroy": (
        "Delete a status label",
        "Deletes a status label no customer carries; one in use is 400 `in_use`.",
    ),
}
