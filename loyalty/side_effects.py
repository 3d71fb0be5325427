"""What a loyalty operation did besides its main write, reported as data.

Each holds every value a door needs to render it (Capillary `sideEffects`, the native API's
`side_effects`), so rendering needs no further queries.
"""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PointsAwarded:
    customer_id: str  # the customer's public id: referrals award points to another customer
    program_id: int
    points: int
    reason: str
    type: str = "points"


@dataclass(frozen=True)
class StampsAdded:
    card_code: str
    stamps: int
    total: int
    type: str = "stamps"


@dataclass(frozen=True)
class RewardEarned:
    card_code: str
    reward_id: int
    reward_name: str
    stamp_cost: int
    type: str = "reward"


@dataclass(frozen=True)
class CouponIssued:
    coupon_id: int
    code: str
    description: str
    discount_code: str
    valid_till: datetime | None
    type: str = "coupon"


@dataclass(frozen=True)
class TierChanged:
    program_id: int
    from_tier: int | None
    to_tier: int
    tier_name: str
    type: str = "tier"


SideEffect = PointsAwarded | StampsAdded | RewardEarned | CouponIssued | TierChanged
