"""Partners: the field systems that talk to the OMS (a node's warehouse or store system, a
carrier), each acting only as itself.

A partner holds its own credentials (a bearer key and the secret it signs events with)
and a list of the nodes or carriers it speaks for: one, or several for a named
integration (a WMS serving three DCs). What it sends about anything else is refused.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.errors import DomainError, Forbidden
from domain.ids import Id

PartnerKind = Literal["node", "carrier"]

# The role a partner's key carries: what it may call (api/deps.py); its ids say about what.
ROLE_OF_KIND: dict[str, str] = {"node": "warehouse", "carrier": "carrier"}

# How long an older credential keeps working after a rotation, unless said otherwise: a
# day to deploy the new key and secret on the field system without dropping an event.
DEFAULT_ROTATION_GRACE_HOURS = 24
MAX_ROTATION_GRACE_HOURS = 24 * 14


class PartnerForbidden(Forbidden):
    """A partner speaking for a node or carrier that is not its own."""


class PartnerConflict(DomainError):
    """A partner id taken already, or a revoked partner asked for new credentials."""


def _distinct(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("ids must not repeat")
    return ids


class PartnerCreate(BaseModel):
    """`POST /v1/admin/partners`: who the partner is and what it speaks for."""

    model_config = ConfigDict(extra="forbid")

    partner_id: Id
    kind: PartnerKind
    ids: Annotated[list[Id], Field(min_length=1, max_length=1000), AfterValidator(_distinct)]
    name: Annotated[str, Field(max_length=200)] = ""


class Rotation(BaseModel):
    """`POST /v1/admin/partners/{id}/rotate`: the older credentials stay live this long."""

    model_config = ConfigDict(extra="forbid")

    grace_hours: Annotated[int, Field(ge=0, le=MAX_ROTATION_GRACE_HOURS)] = (
        DEFAULT_ROTATION_GRACE_HOURS
    )


class IssuedCredential(BaseModel):
    """Shown once, at creation or rotation: the OMS keeps neither in the clear."""

    partner_id: str
    credential_id: str
    key: str
    signing_secret: str
    previous_expire_at: datetime | None = None  # at a rotation: when the older ones stop


class CredentialView(BaseModel):
    credential_id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    live: bool


class PartnerView(BaseModel):
    partner_id: str
    kind: PartnerKind
    ids: list[str]
    name: str
    created_at: datetime
    revoked_at: datetime | None
    credentials: list[CredentialView]


class Caller(BaseModel):
    """Who is calling: a role (from a key) and, for a partner, what it speaks for. The
    retailer's own keys (checkout, support, admin) carry no partner; a checkout key may be
    bound to one sales channel."""

    model_config = ConfigDict(frozen=True)

    role: str
    partner_id: str | None = None
    kind: PartnerKind | None = None
    ids: frozenset[str] = frozenset()
    channel: str | None = None  # a checkout key's own channel; None: every channel

    def sees_channel(self, channel: str) -> bool:
        """A checkout bound to a channel sees that channel's orders only."""
        return self.channel is None or self.channel == channel

    def speaks_for(self, kind: PartnerKind, target: str) -> bool:
        """Admin speaks for anyone; a partner only for its own nodes or carriers."""
        if self.role == "admin":
            return True
        return self.kind == kind and target in self.ids

    def reads(self, kind: PartnerKind, target: str) -> bool:
        """The retailer's own keys read about every node; a partner about its own only."""
        return self.partner_id is None or self.speaks_for(kind, target)

    def check(self, kind: PartnerKind, target: str) -> None:
        """Refuse (PartnerForbidden) what this caller may not say about `target`."""
        if not self.speaks_for(kind, target):
            who = f"partner {self.partner_id}" if self.partner_id else f"role {self.role}"
            raise PartnerForbidden(f"{who} does not speak for {kind} {target}")
