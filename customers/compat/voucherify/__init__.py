"""Voucherify's customer API (v1).

    POST   /v1/customers                    create, or update the customer `id` or `source_id` names
    GET    /v1/customers                    list (limit, page, email, city, name, created_at[...],
                                            updated_at[...], order, starting_after)
    GET    /v1/customers/{id or source_id}
    PUT    /v1/customers/{id or source_id}
    DELETE /v1/customers/{id or source_id}

Authentication: `X-App-Id` is the organization's slug, `X-App-Token` one of its API keys.
Mapping and what is not supported: docs/compat/voucherify.md. Tests: tests/compat/voucherify/.
"""
