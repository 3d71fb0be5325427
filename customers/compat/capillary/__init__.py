"""Capillary's customer API (v2): register, update and read customers.

    POST /v2/customers                      register (profiles per source, enrolments, …)
    PUT  /v2/customers/{customerId}         update, also as PUT /v2/customers?customerId=…
    GET  /v2/customers/{customerId}

Authentication: HTTP Basic (any user name, the API key as password) or a Bearer key. The
USER-CONTEXT-ENTITY-* headers are recorded with every change. Mapping: docs/compat/capillary.md.
Tests: tests/compat/capillary/.
"""
