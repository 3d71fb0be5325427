"""What a return takes back of each award its purchase earned: a pure calculation, no reads or
writes beyond the facts handed in.

An award was measured on a basis (loyalty.services.earning.basis_of), kept on its ledger row:

- `total` (base rate, tier multiplier): the whole purchase; it comes back in proportion to the
  part of the purchase's total returned;
- `category:<name>`, `sku:<code>` (multipliers): the lines the rule counted; it comes back in
  proportion to the part of those lines' amount returned (an amount refunded without naming lines
  counts against every line alike);
- `bonus` (first purchase, birthday): kept until everything is returned, then taken back whole.

A cap already cut the rows it capped: each row comes back in proportion to what it gave.
Proportions are of everything returned so far, this return included, so that a purchase's returns
together take back at most what it earned, and all of it once everything is back: each return
takes what the proportion now comes to, rounded half up (ROUNDING), less what earlier returns
claimed.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .earning import BASIS_BONUS, BASIS_TOTAL

ROUNDING = ROUND_HALF_UP


@dataclass(frozen=True)
class LineBack:
    sku: str
    category: str
    amount: Decimal  # what the line cost
    returned: Decimal  # what its returns gave back of that
    all_back: bool  # every unit of it was returned


@dataclass(frozen=True)
class Returned:
    """What a purchase's returns have given back, in all."""

    total: Decimal
    lines: tuple[LineBack, ...]
    refunded: Decimal  # by amount, without naming lines

    @property
    def everything(self) -> bool:
        if all(line.all_back for line in self.lines):
            return True
        back = self.refunded + sum((line.returned for line in self.lines), Decimal(0))
        return self.total > 0 and back >= self.total


def share(basis: str, returned: Returned) -> Decimal:
    """The part, from 0 to 1, of what an award of this basis counted that has come back."""
    if returned.everything:
        return Decimal(1)
    if basis == BASIS_BONUS or not returned.total:
        return Decimal(0)
    if basis == BASIS_TOTAL:
        lines = sum((line.returned for line in returned.lines), Decimal(0))
        return (returned.refunded + lines) / returned.total
    field, _, value = basis.partition(":")
    counted = [line for line in returned.lines if getattr(line, field) == value]
    amount = sum((line.amount for line in counted), Decimal(0))
    if not amount:
        return Decimal(0)
    back = sum((line.returned for line in counted), Decimal(0))
    back += returned.refunded * amount / returned.total
    return min(Decimal(1), back / amount)


def due(points: int, part: Decimal, claimed_before: int) -> int:
    """What a return takes back of an award of `points` once `part` of it has come back, when
    earlier returns claimed `claimed_before` of it."""
    owed = int((points * part).to_integral_value(ROUNDING))
    return max(0, min(points, owed) - claimed_before)
