from contextlib import contextmanager

import pytest

from crm.errors import DomainError, ErrorCode


@contextmanager
def refused(code: ErrorCode, field: str | None = None):
    """The block raises DomainError with this code (and, if given, naming this field)."""
    with pytest.raises(DomainError) as caught:
        yield caught
    assert caught.value.code == code, caught.value
    if field is not None:
        assert caught.value.field == field, caught.value
