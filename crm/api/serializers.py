"""The base of every input serializer of the native API: a body says only what the schema says.

DRF ignores keys a serializer does not declare and coerces JSON types (`0` becomes `"0"`, `"1"`
becomes `True`). Here an undeclared key, a read-only one, or a value of another JSON type than the
field's is refused with 400 naming the field, in nested serializers and list items too, since each
nested input serializer checks its own part. The schema says `additionalProperties: false` for
every input serializer (crm/api/schema.py).
"""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

UNKNOWN_FIELD = "unknown_field"
INVALID_TYPE = "invalid_type"
# Serializer context: read a document the API gave out (GET), whose output-only keys (ids, times,
# balances) are not inputs, as the JSON Lines import does.
IGNORE_UNKNOWN_FIELDS = "ignore_unknown_fields"


def json_types(field: serializers.Field) -> tuple[type, ...] | None:
    """The JSON types a field reads, for the scalar fields DRF would otherwise coerce."""
    if isinstance(field, serializers.BooleanField):
        return (bool,)
    if isinstance(field, serializers.IntegerField):
        return (int,)
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        return (str,)
    if isinstance(field, serializers.DateField | serializers.DateTimeField):
        return (str,)
    return None


def type_errors(field: serializers.Field, value) -> list | dict | None:
    if value is None:
        return None  # the field's allow_null decides
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        errors = {
            index: problem
            for index, item in enumerate(value)
            if (problem := type_errors(field.child, item))
        }
        return errors or None
    expected = json_types(field)
    if expected is None:
        return None
    if isinstance(value, expected) and not (isinstance(value, bool) and bool not in expected):
        return None
    name = {bool: "a boolean", int: "an integer", str: "a string"}[expected[0]]
    return [ErrorDetail(f"Expected {name}.", code=INVALID_TYPE)]


class InputSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        errors = {}
        if isinstance(data, Mapping):
            writable = {field.field_name: field for field in self._writable_fields}
            for name, value in data.items():
                field = writable.get(name)
                if field is None:
                    if self.context.get(IGNORE_UNKNOWN_FIELDS):
                        continue
                    errors[name] = [ErrorDetail("Unknown field.", code=UNKNOWN_FIELD)]
                elif problem := type_errors(field, value):
                    errors[name] = problem
        try:
            value = super().to_internal_value(data)
        except ValidationError as error:
            if not isinstance(error.detail, dict):
                raise
            raise ValidationError({**error.detail, **errors}) from None
        if errors:
            raise ValidationError(errors)
        return value


class BatchItemErrorSerializer(serializers.Serializer):
    """Why an item of a batch failed: its index in the batch, and the field named as for one."""

    index = serializers.IntegerField()
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()
