"""Partners' credentials: created, found by key, rotated and revoked.

Nothing here keeps a key or a signing secret in the clear. A key is found by its
SHA-256; a signing secret is derived when needed, HMAC(partner secret, credential id and
salt), from a salt in the row and the OMS's own partner secret, which is not in the
database: a copy of the database signs nothing.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from db.network import read_network
from db.tables import PartnerCredentialRow, PartnerRow
from domain.errors import NotFound, UnknownReference
from domain.partners import (
    ROLE_OF_KIND,
    Caller,
    CredentialView,
    IssuedCredential,
    PartnerConflict,
    PartnerCreate,
    PartnerView,
)

KEY_PREFIX = "pk_"  # tells a partner's key from the retailer's role keys at a glance


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def signing_secret(partner_secret: str, credential_id: str, salt: str) -> str:
    """The secret a credential signs with, derived again at each check."""
    message = f"{credential_id}|{salt}".encode()
    return "pss_" + hmac.new(partner_secret.encode(), message, hashlib.sha256).hexdigest()


def create(
    session: Session, partner: PartnerCreate, partner_secret: str, now: datetime
) -> IssuedCredential:
    """A new partner with its first credential (409 if the id is taken, even revoked:
    an id names one field system for good, in every audit line)."""
    if session.get(PartnerRow, partner.partner_id) is not None:
        raise PartnerConflict(f"partner {partner.partner_id} exists already")
    network = read_network(session)
    known = set(network.nodes) if partner.kind == "node" else {c.id for c in network.carriers}
    unknown = [target for target in partner.ids if target not in known]
    if unknown:
        raise UnknownReference(f"unknown {partner.kind}(s): {', '.join(unknown[:10])}")
    session.add(
        PartnerRow(
            partner_id=partner.partner_id,
            kind=partner.kind,
            ids=list(partner.ids),
            name=partner.name,
            created_at=now,
        )
    )
    return _issue(session, partner.partner_id, partner_secret, now)


def rotate(
    session: Session, partner_id: str, grace: timedelta, partner_secret: str, now: datetime
) -> IssuedCredential:
    """A new credential; the live older ones keep working for `grace`, then stop: two
    live secrets while the field system moves to the new one."""
    partner = _partner(session, partner_id, for_update=True)
    if partner.revoked_at is not None:
        raise PartnerConflict(f"partner {partner_id} is revoked: create a new partner")
    ends = now + grace
    for older in _credentials(session, partner_id):
        if _is_live(older, now) and (older.expires_at is None or older.expires_at > ends):
            older.expires_at = ends
    issued = _issue(session, partner_id, partner_secret, now)
    return issued.model_copy(update={"previous_expire_at": ends})


def revoke(session: Session, partner_id: str, now: datetime) -> PartnerView:
    """Every credential of the partner stops at once; revoking twice changes nothing."""
    partner = _partner(session, partner_id, for_update=True)
    if partner.revoked_at is None:
        partner.revoked_at = now
    for credential in _credentials(session, partner_id):
        if credential.revoked_at is None:
            credential.revoked_at = now
    session.flush()
    return view(session, partner, now)


def caller_of(
    session: Session, key: str, partner_secret: str, now: datetime
) -> tuple[Caller, str] | None:
    """The partner a key belongs to, and the secret its events are signed with, if the
    key is live; None otherwise (unknown, expired, revoked)."""
    credential = session.exec(
        select(PartnerCredentialRow).where(PartnerCredentialRow.key_hash == key_hash(key))
    ).first()
    if credential is None or not _is_live(credential, now):
        return None
    partner = session.get(PartnerRow, credential.partner_id)
    if partner is None or partner.revoked_at is not None:
        return None
    caller = Caller(
        role=ROLE_OF_KIND[partner.kind],
        partner_id=partner.partner_id,
        kind=partner.kind,  # type: ignore[arg-type]  # a PartnerKind, as created
        ids=frozenset(partner.ids),
    )
    return caller, signing_secret(partner_secret, credential.credential_id, credential.salt)


def listing(session: Session, now: datetime) -> list[PartnerView]:
    partners = session.exec(select(PartnerRow).order_by(col(PartnerRow.partner_id))).all()
    return [view(session, partner, now) for partner in partners]


def get(session: Session, partner_id: str, now: datetime) -> PartnerView:
    return view(session, _partner(session, partner_id), now)


def view(session: Session, partner: PartnerRow, now: datetime) -> PartnerView:
    """What an operator may see: ids and dates, never a key or a secret."""
    return PartnerView(
        partner_id=partner.partner_id,
        kind=partner.kind,  # type: ignore[arg-type]
        ids=partner.ids,
        name=partner.name,
        created_at=partner.created_at,
        revoked_at=partner.revoked_at,
        credentials=[
            CredentialView(
                credential_id=c.credential_id,
                created_at=c.created_at,
                expires_at=c.expires_at,
                revoked_at=c.revoked_at,
                live=partner.revoked_at is None and _is_live(c, now),
            )
            for c in _credentials(session, partner.partner_id)
        ],
    )


def _issue(session: Session, partner_id: str, partner_secret: str, now: datetime):
    credential_id = secrets.token_hex(8)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    session.add(
        PartnerCredentialRow(
            credential_id=credential_id,
            partner_id=partner_id,
            key_hash=key_hash(key),
            salt=salt,
            created_at=now,
        )
    )
    session.flush()
    return IssuedCredential(
        partner_id=partner_id,
        credential_id=credential_id,
        key=key,
        signing_secret=signing_secret(partner_secret, credential_id, salt),
    )


def _partner(session: Session, partner_id: str, for_update: bool = False) -> PartnerRow:
    query = select(PartnerRow).where(PartnerRow.partner_id == partner_id)
    if for_update:  # a rotation and a revocation of one partner go one after the other
        query = query.with_for_update()
    partner = session.exec(query).first()
    if partner is None:
        raise NotFound(f"no partner {partner_id}")
    return partner


def _credentials(session: Session, partner_id: str) -> list[PartnerCredentialRow]:
    return list(
        session.exec(
            select(PartnerCredentialRow)
            .where(PartnerCredentialRow.partner_id == partner_id)
            .order_by(col(PartnerCredentialRow.created_at), col(PartnerCredentialRow.credential_id))
        ).all()
    )


def _is_live(credential: PartnerCredentialRow, now: datetime) -> bool:
    if credential.revoked_at is not None:
        return False
    return credential.expires_at is None or credential.expires_at > now
