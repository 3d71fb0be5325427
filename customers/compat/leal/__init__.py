"""Leal's stamp-card API (v1): customers, their cards, stamps and rewards.

Every path starts with /api/v1/accounts/{account_id}, the account being one of the
organization's stores: where what the client writes is recorded. Every customer of the
organization is reached under each account.

    GET, POST        /customers                      list (search, source + external_id, page,
                                                     items), create
    GET, PATCH, PUT  /customers/{id}
    GET              /customers/{id}/customer_cards[/{card}]
    POST             /customers/{id}/customer_cards/{card}/stamp   (stamps, skip_notifications)
    POST             /customers/{id}/customer_cards/{card}/redeem  (reward_id)
    GET              /cards, /rewards                the store's card templates and rewards

Authentication: `Authorization: Bearer <API key>`. Bodies are JSON (`{"customer": {...}}`) or
form fields (`customer[first_name]=...`). Mapping and what is not supported: docs/compat/leal.md.
Tests: tests/compat/leal/.
"""
