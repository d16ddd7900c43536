"""Policies, versioned: saving one makes a new version, in force at once. The sourcing
policy lives here; the store replenishment policy (db/replenishment.py) is kept the same
way, in its own table."""

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import Session, col, select

from db.tables import PolicyRow
from domain.policy import DEFAULT_POLICY, SourcingPolicy

P = TypeVar("P", bound=BaseModel)


def save_version(session: Session, table: Any, policy: P) -> P:
    """Save a policy as the newest version of its table; the database gives the number."""
    row = table(
        name=policy.name,  # type: ignore[attr-defined]
        document={},
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    saved = policy.model_copy(update={"version": row.version})
    row.document = saved.model_dump(mode="json")
    session.flush()
    return saved


def newest(session: Session, table: Any, model: type[P]) -> P | None:
    row = session.exec(select(table).order_by(col(table.version).desc()).limit(1)).first()
    return model.model_validate(row.document) if row else None


def versions(session: Session, table: Any, model: type[P]) -> list[P]:
    rows = session.exec(select(table).order_by(col(table.version).desc()).limit(100))
    return [model.model_validate(row.document) for row in rows]


def save_policy(session: Session, policy: SourcingPolicy) -> SourcingPolicy:
    return save_version(session, PolicyRow, policy)


def active_policy(session: Session) -> SourcingPolicy:
    return newest(session, PolicyRow, SourcingPolicy) or DEFAULT_POLICY


def policy_versions(session: Session) -> list[SourcingPolicy]:
    return versions(session, PolicyRow, SourcingPolicy)
