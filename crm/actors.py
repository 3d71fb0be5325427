"""Who did it: recorded on every ledger row (and, later, every audit event)."""

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Actor:
    kind: str  # "staff", "api_key" or "system"
    identity: str = ""
    context: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    request_id: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.kind}:{self.identity}" if self.identity else self.kind

    @classmethod
    def staff(cls, user, request_id: str = "") -> "Actor":
        return cls("staff", f"{user.pk} {user.get_username()}", request_id=request_id)

    @classmethod
    def api_key(cls, key, context: dict[str, str] | None = None, request_id: str = "") -> "Actor":
        return cls("api_key", f"{key.pk} {key.prefix}", context or {}, request_id)

    def as_dict(self) -> dict:
        """For handing to background jobs, which get it back with `Actor(**data)`."""
        return asdict(self)


SYSTEM = Actor("system")
