"""The production compose file keeps the Temporal Web UI to the host and read-only."""

from pathlib import Path

import yaml

COMPOSE = Path(__file__).parents[2] / "docker-compose.yml"


def test_the_temporal_ui_is_published_on_localhost_only_and_read_only():
    ui = yaml.safe_load(COMPOSE.read_text())["services"]["temporal-ui"]
    # The UI has no login: a port on every interface would open every order to the network.
    assert ui["ports"], "the UI is published somewhere"
    for port in ui["ports"]:
        assert str(port).startswith("127.0.0.1:"), port
    assert str(ui["environment"]["TEMPORAL_DISABLE_WRITE_ACTIONS"]).lower() == "true"


def test_the_oms_containers_take_the_payload_and_metrics_keys():
    oms = yaml.safe_load(COMPOSE.read_text())["x-oms"]["environment"]
    assert {"OMS_PAYLOAD_KEYS", "OMS_METRICS_KEY"} <= set(oms)
