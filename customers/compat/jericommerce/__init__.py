"""Jericommerce's customer integration API: batch upserts keyed by email, deletes by email.

    POST   /v1/programs/{programId}/integrations/api   [{"email", "feature": "users", "payload"}]
    DELETE /v1/programs/{programId}/integrations/api?email=…

Authentication: the `Authorization` header carries the API key (bare or after "Bearer").
Mapping and limits: docs/compat/jericommerce.md. Tests: tests/compat/jericommerce/.
"""
