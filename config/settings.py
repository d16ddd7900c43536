"""One settings class for every process of the OMS (API, worker, CLI)."""

import base64
import binascii
import hmac
import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.payload_codec import parse_payload_keys

# The retailer's own roles, keyed in OMS_API_KEYS. Field systems (nodes: role warehouse,
# carriers: role carrier) are partners with keys of their own, held in the database
# (db/partners.py), each speaking only for its own nodes or carriers.
ROLES = ("checkout", "support", "admin")
PARTNER_ROLES = ("warehouse", "carrier")

DEFAULT_DATA_DIR = Path(".data")


# Keys `oms run` makes for development (dev-...) and the tests' (test-...): never production's.
DEV_PREFIXES = ("dev-", "test-")


class UnsafeSettings(ValueError):
    """Production settings that would leave the OMS open or broken."""


class Settings(BaseSettings):
    # An error names the setting and why, never its value, and keys and secrets are
    # SecretStr (shown as **********): they stay out of logs, reprs and terminals.
    model_config = SettingsConfigDict(env_prefix="OMS_", extra="ignore", hide_input_in_errors=True)

    # "prod" refuses unsafe settings at start (docs/operations.md). A closed set:
    # "production" or " prod" is refused too, never taken for a development setup.
    env: Literal["dev", "prod"] = "dev"
    # Local state: the SQLite database, the dev server's history, development secrets.
    data_dir: Path = DEFAULT_DATA_DIR
    # Empty: SQLite in OMS_DATA_DIR. PostgreSQL: postgresql+psycopg://user@host/db.
    database_url: str = ""
    # Temporal's frontend, host:port. Set, it wins over Temporal's own TEMPORAL_ADDRESS
    # and temporal.toml profile (config/temporal.py).
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"  # set, it wins over TEMPORAL_NAMESPACE
    temporal_ui_port: int = 8233  # the dev server's Web UI, under `oms run`
    # Where this process serves the Temporal SDK's metrics for Prometheus ("host:port";
    # empty: not served). One address per process.
    temporal_metrics_address: str = ""
    # gzip saves bandwidth to a remote cluster; next to the server it only costs CPU.
    temporal_compression: Literal["gzip", "none"] = "gzip"
    task_queue: str = "oms-orders"  # the workers poll it; the API starts orders on it
    # "checkout:KEY,support:KEY,admin:KEY" — several keys per role are allowed;
    # "checkout@app:KEY" places, reads, lists and cancels only channel app's orders.
    api_keys: SecretStr = SecretStr("")
    # One secret per job: a webhook receiver, which holds the webhook secret, can forge
    # neither field events nor option ids.
    # Admin's field events are signed with it (X-OMS-Signature); partners have their own.
    signing_secret: SecretStr = SecretStr("")
    # Signs the promise's option ids; empty: derived from OMS_SIGNING_SECRET (development).
    option_secret: SecretStr = SecretStr("")
    # Partners' signing secrets are derived from it (never stored); empty: derived from
    # OMS_SIGNING_SECRET (development). Changing it changes every partner's secret.
    partner_secret: SecretStr = SecretStr("")
    # How far a field event's X-OMS-Timestamp may be from now: beyond, a 401.
    signature_tolerance_seconds: int = 300
    # Where customer, node and carrier notifications are POSTed; empty: log sink only.
    webhook_url: str = ""
    # The endpoint's Standard Webhooks secret ("whsec_" + base64): it signs every
    # notification (webhook-id, webhook-timestamp, webhook-signature).
    webhook_secret: SecretStr = SecretStr("")
    # The customer's time zone: whose day an order is placed, promised and judged on.
    default_timezone: str = "Europe/Paris"
    api_host: str = "127.0.0.1"  # where `oms api` listens (a TLS proxy in front in production)
    api_port: int = 8000  # the port `oms api` listens on
    api_workers: int = 1  # API processes; each keeps its own promise cache
    # Orders a worker keeps in memory; beyond that, each event replays the order's history.
    worker_cached_workflows: int = 1000
    # The workflow sandbox guards determinism (the tests always run with it); a rehearsal
    # of a peak may run without it, for speed, on code the tests have proven.
    worker_sandbox: bool = True
    worker_activity_threads: int = 32  # activities at once in one worker process
    # "json": one JSON object per log line, with the workflow, order and activity it is
    # about (config/logs.py); "text": plain lines.
    log_format: Literal["text", "json"] = "text"
    # The launcher (oms run, the benchmark) migrated the database before starting this one.
    skip_migrations: bool = False
    # "id:base64,id:base64" (32-byte keys): payloads in Temporal's histories are encrypted
    # with the first, read with any (config/payload_codec.py). Empty: in clear.
    payload_keys: SecretStr = SecretStr("")
    # The bearer key Prometheus scrapes /metrics with in production (only that: a scraper's
    # config is no place for a role's key). Empty in production: /metrics is refused.
    metrics_key: SecretStr = SecretStr("")

    @field_validator("api_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr) -> SecretStr:
        parse_api_keys(value.get_secret_value())
        return value

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys_parse(cls, value: SecretStr) -> SecretStr:
        parse_payload_keys(value.get_secret_value())
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_parses(cls, secret: SecretStr) -> SecretStr:
        value = secret.get_secret_value()
        if value:
            core = value.removeprefix("whsec_").rstrip("=")
            try:
                key = base64.b64decode(core + "=" * (-len(core) % 4), validate=True)
            except binascii.Error:
                key = b""
            if not value.startswith("whsec_") or len(key) < 16:
                raise ValueError(
                    "OMS_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ + base64 "
                    "of at least 16 random bytes"
                )
        return secret

    @model_validator(mode="after")
    def _safe_in_production(self) -> "Settings":
        if self.webhook_url and not self.webhook_secret.get_secret_value():
            raise UnsafeSettings(
                "OMS_WEBHOOK_URL needs OMS_WEBHOOK_SECRET (its own secret, whsec_ + base64)"
            )
        if self.env != "prod":
            return self
        keys = self.key_roles
        missing = [role for role in ROLES if role not in keys.values()]
        if missing:
            raise UnsafeSettings(f"OMS_API_KEYS has no key for roles: {', '.join(missing)}")
        if any(len(key) < 24 for key in keys):
            raise UnsafeSettings("OMS_API_KEYS: every key must have at least 24 characters")
        roles = [role for key, role in keys.items() if key.startswith(DEV_PREFIXES)]
        if roles:
            raise UnsafeSettings(
                f"OMS_API_KEYS: the {', '.join(sorted(set(roles)))} key is a development or "
                "test key: make production keys (e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        secrets = {
            name: getattr(self, name).get_secret_value()
            for name in ("signing_secret", "option_secret", "partner_secret", "webhook_secret")
        }
        for name in ("signing_secret", "option_secret", "partner_secret"):
            if len(secrets[name]) < 32:
                raise UnsafeSettings(f"OMS_{name.upper()} must have at least 32 characters")
        given = [secret for secret in secrets.values() if secret]
        if len(set(given)) != len(given):
            raise UnsafeSettings(
                "OMS_SIGNING_SECRET, OMS_OPTION_SECRET, OMS_PARTNER_SECRET and "
                "OMS_WEBHOOK_SECRET must differ"
            )
        metrics_key = self.metrics_key.get_secret_value()
        if metrics_key and (
            len(metrics_key) < 24 or metrics_key.startswith(DEV_PREFIXES) or metrics_key in keys
        ):
            raise UnsafeSettings(
                "OMS_METRICS_KEY must have at least 24 characters, not be a development or "
                "test key, nor a role's key"
            )
        if self.webhook_url and not self.webhook_url.startswith("https://"):
            raise UnsafeSettings("OMS_WEBHOOK_URL must be https in production")
        if not self.database_url.startswith("postgresql"):
            raise UnsafeSettings("OMS_DATABASE_URL must point to PostgreSQL in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'oms.db'}"

    @property
    def option_key(self) -> str:
        """The secret option ids are signed with: its own, or in development one derived
        from the field secret (a different key all the same)."""
        if own := self.option_secret.get_secret_value():
            return own
        return _derived(self.signing_secret, b"oms option ids")

    @property
    def partner_key(self) -> str:
        """The secret partners' signing secrets are derived from: its own, or in
        development one derived from the field secret (a different key all the same)."""
        if own := self.partner_secret.get_secret_value():
            return own
        return _derived(self.signing_secret, b"oms partners")

    @cached_property
    def key_roles(self) -> dict[str, str]:
        # Parsed once: the door asks for every request, the promise's included.
        return parse_api_keys(self.api_keys.get_secret_value())

    @cached_property
    def key_channels(self) -> dict[str, str]:
        """Checkout keys bound to one sales channel, and that channel."""
        grants = parse_api_key_grants(self.api_keys.get_secret_value()).items()
        return {key: channel for key, (_, channel) in grants if channel}


def _derived(secret: SecretStr, purpose: bytes) -> str:
    """A development secret for another job, derived from the field secret."""
    return hmac.new(secret.get_secret_value().encode(), purpose, "sha256").hexdigest()


def parse_api_keys(value: str) -> dict[str, str]:
    """Map each key to its role from "role:key,role:key"."""
    return {key: role for key, (role, _) in parse_api_key_grants(value).items()}


CHANNEL = re.compile(r"^[a-z_]{1,32}$")  # as an order's channel


def parse_api_key_grants(value: str) -> dict[str, tuple[str, str | None]]:
    """Map each key to its role and, for a checkout key bound to one sales channel
    ("checkout@app:KEY"), that channel: it places, reads, lists and cancels only that
    channel's orders. "checkout:KEY" serves every channel (a retailer's one checkout)."""
    keys: dict[str, tuple[str, str | None]] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        grant, sep, key = item.partition(":")
        role, at, channel = grant.partition("@")
        if at and (role != "checkout" or not CHANNEL.match(channel)):
            raise ValueError(
                "OMS_API_KEYS: only checkout keys take a channel, as checkout@channel:KEY "
                "with a channel of lower-case letters and _"
            )
        if role in PARTNER_ROLES:
            raise ValueError(
                f"OMS_API_KEYS: {role} keys are partners' now, each for its own nodes or "
                "carriers: create them with `oms partners create` or POST /v1/admin/partners"
            )
        if not sep or role not in ROLES or not key:
            raise ValueError(f"OMS_API_KEYS entry must be role:key with a role of {ROLES}")
        if keys.get(key, (role, channel or None)) != (role, channel or None):
            # Which role would it be? Refused, without printing the key.
            raise ValueError(f"OMS_API_KEYS gives one key to two roles ({keys[key][0]} and {role})")
        keys[key] = (role, channel or None)
    return keys


@lru_cache
def get_settings() -> Settings:
    return Settings()
