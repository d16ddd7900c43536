"""`oms partners ...`: the field systems' credentials, from the operator's shell (the same
rules as the admin routes, straight on the database)."""

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta

from config import Settings


def add_commands(commands) -> None:
    partners = commands.add_parser("partners", help="field systems' keys and signing secrets")
    sub = partners.add_subparsers(dest="partners_command", required=True)
    create = sub.add_parser("create", help="a partner for nodes or carriers: prints its key once")
    create.add_argument("partner_id")
    create.add_argument("--kind", choices=("node", "carrier"), required=True)
    create.add_argument("--ids", required=True, help="the node or carrier ids, comma-separated")
    create.add_argument("--name", default="")
    sub.add_parser("list", help="partners and their credentials' dates (never a key)")
    rotate = sub.add_parser("rotate", help="a new key and secret; the older ones end later")
    rotate.add_argument("partner_id")
    rotate.add_argument("--grace-hours", type=int, default=24)
    revoke = sub.add_parser("revoke", help="every key of the partner stops at once")
    revoke.add_argument("partner_id")


def partners_command(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from db import partners
    from db.engine import make_engine, unit_of_work
    from db.migrate import upgrade
    from domain.errors import DomainError
    from domain.partners import PartnerCreate, Rotation

    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    now = datetime.now(UTC)
    try:
        with unit_of_work(engine) as session:
            match args.partners_command:
                case "create":
                    partner = PartnerCreate(
                        partner_id=args.partner_id,
                        kind=args.kind,
                        ids=[i.strip() for i in args.ids.split(",") if i.strip()],
                        name=args.name,
                    )
                    issued = partners.create(session, partner, settings.partner_key, now)
                    text = issued.model_dump_json()
                case "list":
                    listed = [p.model_dump(mode="json") for p in partners.listing(session, now)]
                    text = json.dumps({"partners": listed})
                case "rotate":
                    hours = Rotation(grace_hours=args.grace_hours).grace_hours
                    grace = timedelta(hours=hours)
                    issued = partners.rotate(
                        session, args.partner_id, grace, settings.partner_key, now
                    )
                    text = issued.model_dump_json()
                case "revoke":
                    text = partners.revoke(session, args.partner_id, now).model_dump_json()
    except (ValidationError, DomainError) as exc:
        print(f"partners: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(text)
    return 0


def _settings() -> Settings:
    """The API's settings. In development, what the environment leaves unset comes from
    the secrets `oms run` keeps in the data folder, as its API has them: a partner's
    signing secret is derived from them and must be the one the API checks."""
    settings = Settings()
    kept = settings.data_dir / "dev-secrets.json"
    if settings.env == "dev" and kept.exists():
        for name, value in json.loads(kept.read_text()).items():
            os.environ.setdefault(name, value)
        settings = Settings()
    return settings
