"""Partners: the field systems' own credentials, managed by the retailer's admin."""

from datetime import timedelta

from fastapi import APIRouter, status
from pydantic import BaseModel

from api.deps import Admin, EngineDep, NowDep, SessionDep, SettingsDep
from db import partners
from db.engine import unit_of_work
from domain.ids import Id
from domain.partners import IssuedCredential, PartnerCreate, PartnerView, Rotation

router = APIRouter(prefix="/v1/admin/partners", tags=["partners"], dependencies=[Admin])


class PartnerList(BaseModel):
    partners: list[PartnerView]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedCredential)
def create_partner(
    partner: PartnerCreate, engine: EngineDep, settings: SettingsDep, now: NowDep
) -> IssuedCredential:
    """A field system for these nodes or carriers: its key and signing secret, shown this
    once (the OMS keeps neither in the clear)."""
    with unit_of_work(engine) as session:
        return partners.create(session, partner, settings.partner_key, now)


@router.get("", response_model=PartnerList)
def list_partners(session: SessionDep, now: NowDep) -> PartnerList:
    """Every partner, what it speaks for and its credentials' dates (never a key)."""
    return PartnerList(partners=partners.listing(session, now))


@router.get("/{partner_id}", response_model=PartnerView)
def get_partner(partner_id: Id, session: SessionDep, now: NowDep) -> PartnerView:
    """One partner and its credentials' dates."""
    return partners.get(session, partner_id, now)


@router.post("/{partner_id}/rotate", response_model=IssuedCredential)
def rotate_partner(
    partner_id: Id,
    engine: EngineDep,
    settings: SettingsDep,
    now: NowDep,
    rotation: Rotation | None = None,
) -> IssuedCredential:
    """A new key and signing secret; the older ones keep working for `grace_hours`
    (default 24), so the field system can move without losing an event."""
    grace = timedelta(hours=(rotation or Rotation()).grace_hours)
    with unit_of_work(engine) as session:
        return partners.rotate(session, partner_id, grace, settings.partner_key, now)


@router.post("/{partner_id}/revoke", response_model=PartnerView)
def revoke_partner(partner_id: Id, engine: EngineDep, now: NowDep) -> PartnerView:
    """Every key of the partner stops at once, in every API process."""
    with unit_of_work(engine) as session:
        return partners.revoke(session, partner_id, now)
