"""How a Capillary client reaches the door: its base URL and its Basic credentials."""

import base64

CUSTOMERS = "/compat/capillary/v2/customers"


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"till-42:{key}".encode()).decode()
