"""Request bodies of the API and the vendor doors, read so that no body can crash a view.

DRF's own parsers, with what PostgreSQL and Python cannot take refused as a 4xx first: text
with NUL characters (PostgreSQL refuses them in text and JSON columns), JSON nested deeper than
MAX_JSON_DEPTH (past ~1,000 levels Python's parser raises RecursionError) and numbers that are
not finite (1e400 reads as infinity, which no JSON reply can carry). The size limit is Django's
DATA_UPLOAD_MAX_MEMORY_SIZE (see crm.api.guards).
"""

import json
import math
import sys

from django.http import QueryDict
from rest_framework import exceptions, parsers

from crm.errors import field_path

# The deepest body a door documents is five levels (a Capillary profile's channel's meta);
# custom fields are free JSON, and 32 leaves them room.
MAX_JSON_DEPTH = 32
NUL = "\x00"
NUL_MESSAGE = "Text cannot contain NUL characters."


class Unreadable(Exception):
    """A JSON number Python cannot take as it stands."""


def _integer(text: str) -> int:
    if len(text) > sys.get_int_max_str_digits():  # int() would refuse it, after reading it all
        raise Unreadable(f"a number has more than {sys.get_int_max_str_digits()} digits")
    return int(text)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise Unreadable(f"{text} is not a finite number")
    return number


def _refuse_constant(name: str):
    raise Unreadable(f"{name} is not a JSON value")


def nul_error(field: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field or "body": [NUL_MESSAGE]}, code="invalid")


def _child(path: str, key) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else field_path(path, key)


def check_document(document) -> None:
    """Refuses a parsed JSON document nested too deep or holding text with NUL in it."""
    pending = [(document, "", 1)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            if NUL in value:
                raise nul_error(path)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON is nested deeper than {MAX_JSON_DEPTH} levels.")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            child = _child(path, key)
            if isinstance(key, str) and NUL in key:
                raise nul_error(child)
            pending.append((item, child, depth + 1))


def check_form(data: QueryDict) -> None:
    for name, values in data.lists():
        if NUL in name or any(NUL in value for value in values if isinstance(value, str)):
            raise nul_error(name.replace(NUL, "\\0"))


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            document = json.loads(
                stream.read().decode(encoding),
                parse_int=_integer,
                parse_float=_finite,
                parse_constant=_refuse_constant,
            )
        except RecursionError:
            raise exceptions.ParseError(
                f"JSON is nested deeper than {MAX_JSON_DEPTH} levels."
            ) from None
        except Unreadable as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}.") from None
        except ValueError as exc:  # malformed JSON, or text that is not UTF-8
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        check_document(document)
        return document


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        check_form(parsed.data)
        return parsed
