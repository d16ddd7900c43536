"""The OMS connects to any Temporal: the dev server, a cluster with mTLS, Temporal Cloud,
from Temporal's own client configuration (environment or `temporal.toml`)."""

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from config.temporal import connect_options, connect_temporal

TEMPORAL_VARIABLES = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
    "OMS_TEMPORAL_ADDRESS",
    "OMS_TEMPORAL_NAMESPACE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path: Path):
    for name in TEMPORAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no temporal.toml of the machine's user


def test_temporal_cloud_from_temporals_own_variables(monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "shop.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "shop.a1b2c")
    monkeypatch.setenv("TEMPORAL_API_KEY", "an-api-key")
    options = connect_options(Settings())
    assert options["target_host"] == "shop.a1b2c.tmprl.cloud:7233"
    assert options["namespace"] == "shop.a1b2c"
    assert options["api_key"] == "an-api-key" and options["tls"]


def test_a_cluster_with_mtls_from_a_profile_of_temporal_toml(monkeypatch, tmp_path: Path):
    config = tmp_path / "temporal.toml"
    config.write_text(
        '[profile.prod]\naddress = "temporal.internal:7233"\nnamespace = "oms"\n'
        '[profile.prod.tls]\nclient_cert_data = "CERT"\nclient_key_data = "KEY"\n'
    )
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config))
    monkeypatch.setenv("TEMPORAL_PROFILE", "prod")
    options = connect_options(Settings())
    assert (options["target_host"], options["namespace"]) == ("temporal.internal:7233", "oms")
    tls = options["tls"]
    assert tls.client_cert == b"CERT" and tls.client_private_key == b"KEY"


def test_the_oms_settings_win_when_set_and_the_dev_server_is_the_default(monkeypatch):
    assert connect_options(Settings())["target_host"] == "127.0.0.1:7233"
    monkeypatch.setenv("TEMPORAL_ADDRESS", "elsewhere:7233")
    monkeypatch.setenv("OMS_TEMPORAL_ADDRESS", "127.0.0.1:7999")
    assert connect_options(Settings())["target_host"] == "127.0.0.1:7999"


async def test_it_connects_with_temporals_variables(monkeypatch, dev_env: WorkflowEnvironment):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    client = await connect_temporal(Settings())
    assert await client.service_client.check_health()
