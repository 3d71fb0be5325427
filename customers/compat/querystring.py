"""Values the doors' clients send in a URL's query string."""

from customers.normalization import is_email


def query_email(value: str) -> str:
    """The email a query parameter names, as its sender meant it.

    Many HTTP clients leave a "+" unencoded in a query string, where it decodes as a space:
    `?email=ana+tag@example.com` arrives as "ana tag@example.com". No email has a space, so a
    value that is no email, but is one with its spaces read back as "+", is that email."""
    text = value.strip()
    repaired = text.replace(" ", "+")
    if repaired != text and not is_email(text) and is_email(repaired):
        return repaired
    return text
