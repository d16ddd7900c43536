"""Development keys are made once, readable by their user only from the first byte."""

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
