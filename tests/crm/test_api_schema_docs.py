"""What the OpenAPI schema tells an integrator about each operation: its own summary and
description, the errors it may answer with their codes, the Idempotency-Key and RateLimit-*
headers, and examples a client can send as they are."""

import re
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from crm.api.operations import OPERATIONS
from crm.api.problems import domain_status
from crm.errors import DomainError, ErrorCode

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
WRITES = {"post", "put", "patch", "delete"}
BODIES = {"post", "put", "patch"}
JS_SAFE_INTEGER = 2**53 - 1


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    return [
        (method, path, operation)
        for path, items in schema["paths"].items()
        for method, operation in items.items()
    ]


def test_every_operation_has_its_own_summary_and_description(schema):
    found = operations(schema)
    assert len(found) == len(OPERATIONS)  # no text left for an operation that is gone
    for field in ("summary", "description"):
        texts = [operation.get(field, "").strip() for _, _, operation in found]
        assert all(texts), [
            path for (_, path, _), text in zip(found, texts, strict=True) if not text
        ]
        assert len(set(texts)) == len(texts), f"a {field} repeats another's"


def error_statuses(method: str, path: str, operation: dict) -> set[str]:
    names = {parameter["name"] for parameter in operation.get("parameters", [])}
    expected = {"400", "401", "403", "429"}
    if "{" in path or "cursor" in names:
        expected.add("404")
    if method in BODIES:
        expected |= {"409", "413"}
    if method in WRITES:
        expected.add("422")
    return expected


def test_every_operation_lists_its_errors_as_problem_details(schema):
    problem = {"$ref": "#/components/schemas/Problem"}
    for method, path, operation in operations(schema):
        for status in error_statuses(method, path, operation) | {"default"}:
            response = operation["responses"].get(status)
            assert response, f"{method} {path} lists no {status}"
            assert response["content"]["application/problem+json"]["schema"] == problem


def test_the_problem_schema_has_the_shape_problems_are_sent_in(schema):
    components = schema["components"]["schemas"]
    problem = components["Problem"]
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(problem["properties"])
    item = problem["properties"]["errors"]["items"]
    assert item["required"] == ["field", "code", "message"]
    assert item["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCode"}
    codes = set(components["ErrorCode"]["enum"])
    assert set(ErrorCode) <= codes
    assert {"unknown_field", "invalid_type", "unknown_parameter", "max_length", "null"} <= codes


def test_docs_list_every_error_code_with_its_status():
    section = DOCS.read_text().split("\n## Error codes\n", 1)[1]
    listed = dict(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|$", section, re.MULTILINE))
    expected = {str(code): str(domain_status(DomainError(code, ""))) for code in ErrorCode}
    table = "\n".join(f"| `{code}` | {status} |" for code, status in expected.items())
    assert listed == expected, f"docs/api.md should list:\n{table}"


def test_writes_declare_the_idempotency_key(schema):
    for method, path, operation in operations(schema):
        headers = {
            parameter["name"]
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "header"
        }
        assert ("Idempotency-Key" in headers) == (method in WRITES), f"{method} {path}"


def test_responses_declare_the_rate_limit_headers(schema):
    names = {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}
    assert names <= set(schema["components"]["headers"])
    for method, path, operation in operations(schema):
        for status, response in operation["responses"].items():
            headers = set(response.get("headers", {}))
            if status == "401":  # refused before the limiter counts it
                assert not headers & names, f"{method} {path} {status}"
            else:
                assert names <= headers, f"{method} {path} {status}"
                if status.startswith("2"):
                    assert all(response["headers"][name]["required"] for name in names)
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def integers(node, where=""):
    if isinstance(node, dict):
        if node.get("type") == "integer":
            yield where, node
        for key, value in node.items():
            yield from integers(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from integers(value, f"{where}[{index}]")


def test_request_ids_have_examples_a_client_can_send(schema):
    """A generated example of an integer bounded at 2^63-1 is that bound, which JavaScript
    reads as 9223372036854776000: beyond the bound, and not an id anyone has."""
    requests = {
        name: component
        for name, component in schema["components"]["schemas"].items()
        if name.endswith("Request")
    }
    parameters = [
        parameter["schema"]
        for _, _, operation in operations(schema)
        for parameter in operation.get("parameters", [])
    ]
    found = [*integers(requests), *integers(parameters)]
    assert any(where.endswith("program_id") for where, _ in found)
    for where, integer in found:
        if integer.get("maximum", 0) > JS_SAFE_INTEGER:
            assert "example" in integer, where
            assert integer["minimum"] <= integer["example"] <= JS_SAFE_INTEGER, where
