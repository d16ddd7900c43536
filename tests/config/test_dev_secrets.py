"""Development keys are made once, readable by their user only from the first byte."""

import json
import stat
from pathlib import Path

from cli.main import dev_secrets
from config import Settings


def test_dev_secrets_are_private_from_creation_and_kept(tmp_path: Path):
    data = tmp_path / "data"
    made = dev_secrets(Settings(data_dir=data, api_keys="", signing_secret=""))
    path = data / "dev-secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert all(key.split(":", 1)[1].startswith("dev-") for key in made["OMS_API_KEYS"].split(","))
    again = dev_secrets(Settings(data_dir=data, api_keys="", signing_secret=""))
    assert again == made  # made once: restarts keep them


def test_each_job_has_its_own_secret_and_an_older_file_gains_the_new_ones(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    old = {"OMS_API_KEYS": "admin:dev-admin-0123456789abcdef", "OMS_SIGNING_SECRET": "f" * 64}
    (data / "dev-secrets.json").write_text(json.dumps(old))
    empty = Settings(
        data_dir=data, api_keys="", signing_secret="", option_secret="", webhook_secret=""
    )

    made = dev_secrets(empty)

    assert made["OMS_API_KEYS"] == old["OMS_API_KEYS"]  # kept
    assert made["OMS_SIGNING_SECRET"] == old["OMS_SIGNING_SECRET"]
    secrets = [made["OMS_SIGNING_SECRET"], made["OMS_OPTION_SECRET"], made["OMS_WEBHOOK_SECRET"]]
    assert len(set(secrets)) == 3
    assert made["OMS_WEBHOOK_SECRET"].startswith("whsec_")
    assert Settings(webhook_url="http://hook", webhook_secret=made["OMS_WEBHOOK_SECRET"])
    assert stat.S_IMODE((data / "dev-secrets.json").stat().st_mode) == 0o600
    assert dev_secrets(empty) == made
