"""The JSON formats' records read into the services' inputs: native API customer objects (`jsonl`)
and the vendors' request bodies (`capillary`, `jericommerce`, `voucherify`), each by the parser
of its door. A loader sets what the record asks of the services on the record itself."""

from typing import Any

from crm.api.problems import field_errors
from crm.api.serializers import IGNORE_UNKNOWN_FIELDS
from crm.errors import DomainError, ErrorCode
from customers.api.serializers import CustomerCreateSerializer
from customers.compat.capillary.parsing import Parsed
from customers.compat.jericommerce.parsing import item_input
from customers.compat.voucherify.parsing import customer_input
from customers.inputs import EnrollmentInput

from .records import Record


def _object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise DomainError(ErrorCode.INVALID, "Each record is a JSON object.", field="")
    return value


def _native(record: Record, value: Any) -> None:
    """A customer as the native API takes it (POST) or gives it (GET): the latter's enrolments
    and cards carry their balances and stamps over."""
    value = dict(_object(value))
    cards: list = []
    given_out = "id" in value  # as the API gives it
    if given_out:
        value.pop("referral_code", None)  # its own code, not a referrer's
        enrollments = [e for e in value.get("enrollments") or [] if isinstance(e, dict)]
        value["enrollments"] = [
            {
                "program_id": (e.get("program") or {}).get("id"),
                "tier_number": (e.get("tier") or {}).get("number"),
            }
            for e in enrollments
        ]
        for e in enrollments:
            program_id, balance = (e.get("program") or {}).get("id"), e.get("points_balance")
            if isinstance(program_id, int) and isinstance(balance, int) and balance > 0:
                record.balances[program_id] = balance
        cards = [c for c in value.pop("cards", None) or [] if isinstance(c, dict)]
    serializer = CustomerCreateSerializer(data=value, context={IGNORE_UNKNOWN_FIELDS: given_out})
    if not serializer.is_valid():
        [first, *_] = field_errors(serializer.errors)
        raise DomainError(ErrorCode.INVALID, first["message"], field=first["field"])
    record.data = serializer.to_input()
    for i, card in enumerate(cards):
        card_id, stamps = (card.get("stamp_card") or {}).get("id"), card.get("stamps", 0)
        if not isinstance(card_id, int) or not isinstance(stamps, int) or stamps < 0:
            raise DomainError(
                ErrorCode.INVALID, "Expected a stamp card and stamps.", field=f"cards[{i}]"
            )
        record.data.stamp_card_ids.append(card_id)
        record.stamps[card_id] = stamps


def _capillary(record: Record, value: Any) -> None:
    parsed = Parsed()
    try:
        record.data = parsed.registration(value)
    finally:
        record.channel_paths = parsed.channel_paths


def jericommerce_load(record: Record, value: Any, program_id: int | None) -> None:
    """A Jericommerce item, looked up by its email; enrolled in `program_id` when given."""
    email, record.data = item_input(value)
    record.match_by = {"email": email}
    if program_id is not None:
        record.data.enrollments = [EnrollmentInput(program_id)]


def _voucherify(record: Record, value: Any) -> None:
    record.data = customer_input(_object(value))  # their "id" is theirs: source_id is the key
    record.match_by = {"external_id": record.data.external_id or None}


JSON_LOADERS = {"jsonl": _native, "capillary": _capillary, "voucherify": _voucherify}
