"""Sourcing policies, versioned: saving one makes a new version, in force at once."""

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from db.tables import PolicyRow
from domain.policy import DEFAULT_POLICY, SourcingPolicy


def save_policy(session: Session, policy: SourcingPolicy) -> SourcingPolicy:
    row = PolicyRow(name=policy.name, document={}, created_at=datetime.now(UTC))
    session.add(row)
    session.flush()  # the database gives the version
    saved = policy.model_copy(update={"version": row.version})
    row.document = saved.model_dump(mode="json")
    session.flush()
    return saved


def active_policy(session: Session) -> SourcingPolicy:
    row = session.exec(select(PolicyRow).order_by(col(PolicyRow.version).desc()).limit(1)).first()
    return SourcingPolicy.model_validate(row.document) if row else DEFAULT_POLICY


def policy_versions(session: Session) -> list[SourcingPolicy]:
    rows = session.exec(select(PolicyRow).order_by(col(PolicyRow.version).desc()).limit(100))
    return [SourcingPolicy.model_validate(row.document) for row in rows]
