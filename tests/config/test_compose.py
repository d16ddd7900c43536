"""docker-compose.yml, the production shape: Temporal's server on a schema its admin tools
set up, versions that match, the Web UI local and read-only, one OMS image, healthchecks,
and an OMS that starts in production from a filled-in copy of .env.example."""

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import Settings
from workflows import search_attributes

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# Where compose's interpolation reads a variable (`$$` is a literal `$`).
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)")


class Refused(Exception):
    """Compose refuses to start: a required variable is empty."""


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, Any]:
    return compose()["services"]


def example() -> dict[str, str]:
    """.env.example's variables and their shipped values."""
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines())
    return {k.strip(): v.strip() for k, v in (p for p in pairs if len(p) == 2) if k[:1] != "#"}


def filled() -> dict[str, str]:
    """.env.example filled in as it says, each value made the way its comment says."""
    hex_ = secrets.token_hex
    b64 = base64.b64encode(secrets.token_bytes(32)).decode()
    made = {
        "POSTGRES_PASSWORD": hex_(24),
        "OMS_DB_PASSWORD": hex_(24),
        "TEMPORAL_DB_PASSWORD": hex_(24),
        "OMS_API_KEYS": f"checkout:{hex_(24)},support:{hex_(24)},admin:{hex_(24)}",
        "OMS_SIGNING_SECRET": hex_(32),
        "OMS_OPTION_SECRET": hex_(32),
        "OMS_PARTNER_SECRET": hex_(32),
        "OMS_PAYLOAD_KEYS": f"2026-12:{b64}",
        "OMS_METRICS_KEY": hex_(24),
        "OMS_WEBHOOK_URL": "https://hooks.example.com/oms",
        "OMS_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    values = example()
    empty = {name for name, value in values.items() if not value}
    assert empty <= set(made), f"say in this test how to fill {sorted(empty - set(made))}"
    return {name: value or made[name] for name, value in values.items()}


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """The compose file as compose reads it with this .env."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if not isinstance(node, str):
        return node
    return substitute(node, env)


def substitute(text: str, env: dict[str, str]) -> str:
    """`$$`, ${NAME}, ${NAME:-default}, ${NAME:?error}, ${NAME:+other}; the default, error
    and other may hold ${...} themselves, read only when used (as compose does)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end, depth = i + 2, 1
            while depth:  # the matching brace, past nested ${...}
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
            inner = text[i + 2 : end - 1]
            parts = re.fullmatch(r"(\w+)(?:(:-|:\?|:\+)(.*))?", inner, re.S)
            assert parts, f"compose cannot read ${{{inner}}}"
            name, op, arg = parts.groups()
            given = env.get(name, "")
            if op == ":+":
                out.append(substitute(arg, env) if given else "")
            elif given:
                out.append(given)
            elif op == ":?":
                raise Refused(name)
            elif op == ":-":
                out.append(substitute(arg, env))
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def variables(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for item in node.values():
            yield from variables(item)
    elif isinstance(node, list):
        for item in node:
            yield from variables(item)
    elif isinstance(node, str):
        yield from (m["name"] for m in VARIABLE.finditer(node) if m["name"])


def settings_of(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The OMS's settings inside the service's container."""
    for name in [n for n in os.environ if n.startswith("OMS_")]:
        monkeypatch.delenv(name)
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, str(value))
    return Settings()


def tag(image: str) -> str:
    return image.rpartition(":")[2]


def test_temporal_runs_on_a_schema_its_admin_tools_set_up_first():
    found = services()
    images = {name: s.get("image", "") for name, s in found.items()}
    # auto-setup is deprecated: the server image runs alone on a schema made before it starts.
    assert not any("auto-setup" in image for image in images.values())
    assert images["temporal"].startswith("temporalio/server:")
    schema = found["temporal-schema"]
    assert schema["image"].startswith("temporalio/admin-tools:")
    assert found["temporal"]["depends_on"]["temporal-schema"] == {
        "condition": "service_completed_successfully"
    }
    assert schema["depends_on"]["postgresql"] == {"condition": "service_healthy"}
    script = schema["command"][0]
    for database, folder in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        assert f"--db {database} setup-schema -v 0.0" in script
        versions = f"/etc/temporal/schema/postgresql/v12/{folder}/versioned"
        assert f"--db {database} update-schema -d {versions}" in script
    # The databases it fills are made by the postgres init script, owned by Temporal's user.
    init = compose()["configs"]["postgres-users"]["content"]
    for database in ("temporal", "temporal_visibility"):
        assert f"CREATE DATABASE {database} OWNER temporal;" in init


def test_the_server_and_its_admin_tools_are_the_same_version():
    images = [s["image"] for s in services().values() if "image" in s]
    server = [tag(i) for i in images if i.startswith("temporalio/server:")]
    tools = [tag(i) for i in images if i.startswith("temporalio/admin-tools:")]
    assert len(server) == 1 and len(tools) == 2
    assert set(tools) == set(server)
    for image in images:  # pinned, not `latest`: an `up` next month runs what was tested
        assert re.fullmatch(r"[\w./-]+:\d[\w.]*|\$\{OMS_IMAGE:-oms:local\}", image), image


def test_the_namespace_job_registers_every_search_attribute_the_orders_set():
    found = services()
    job = found["temporal-namespace"]
    assert job["depends_on"]["temporal"] == {"condition": "service_healthy"}
    script = job["command"][0]
    assert "namespace create --namespace default" in script
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "KEYWORD_LIST": "KeywordList"}
    for key in search_attributes.ALL:
        assert f"register {key.name} {kinds[key.indexed_value_type.name]}" in script
    for oms in ("api", "worker"):
        assert found[oms]["depends_on"]["temporal-namespace"] == {
            "condition": "service_completed_successfully"
        }


def test_the_temporal_ui_is_published_on_localhost_only_and_read_only():
    ui = services()["temporal-ui"]
    # The UI has no login: a port on every interface would open every order to the network.
    assert ui["ports"], "the UI is published somewhere"
    for port in ui["ports"]:
        assert str(port).startswith("127.0.0.1:"), port
    assert str(ui["environment"]["TEMPORAL_DISABLE_WRITE_ACTIONS"]).lower() == "true"
    assert tag(ui["image"]) == "2.49.1"  # the UI released with server 1.31.0


def test_temporal_itself_is_not_published():
    # Its frontend has no authentication here: anyone reaching 7233 could run any workflow.
    assert "ports" not in services()["temporal"]


def test_one_oms_image_is_built_once_and_run_by_the_api_and_the_workers():
    found = services()
    built = [name for name, s in found.items() if "build" in s]
    assert built == ["api"]
    assert found["api"]["image"] == found["worker"]["image"]
    assert found["api"]["command"] == ["api"] and found["worker"]["command"] == ["worker"]


def test_the_api_and_the_workers_have_healthchecks():
    found = services()
    assert "/livez" in " ".join(found["api"]["healthcheck"]["test"])
    worker = found["worker"]
    assert worker["healthcheck"]["test"] == ["CMD", "python", "-m", "worker.health"]
    # worker.health reads the SDK's metrics where the worker serves them.
    assert worker["environment"]["OMS_TEMPORAL_METRICS_ADDRESS"].startswith("127.0.0.1:")
    assert found["worker"]["depends_on"]["api"] == {"condition": "service_healthy"}


def test_the_api_is_published_on_the_loopback_by_default():
    ports = interpolate(services()["api"]["ports"], filled())
    assert ports == ["127.0.0.1:8000:8000"]


def test_every_variable_compose_reads_is_in_env_example_and_every_one_there_is_read():
    assert set(variables(compose())) == set(example())
    # A bare $NAME in a script is compose's, not the shell's: it must be written $$NAME.
    text = COMPOSE.read_text().replace("$$", "")
    assert not re.findall(r"\$(?!\{)\w+", text)


def test_env_example_as_shipped_does_not_start():
    with pytest.raises(Refused):
        interpolate(compose(), example())


@pytest.mark.parametrize("service", ["api", "worker"])
def test_a_filled_in_env_file_starts_the_oms_in_production(
    service: str, monkeypatch: pytest.MonkeyPatch
):
    found = interpolate(compose(), filled())["services"][service]
    settings = settings_of(found, monkeypatch)
    assert settings.env == "prod"
    assert settings.database_url.startswith("postgresql+psycopg://oms:")
    assert settings.temporal_address == "temporal:7233"


def test_every_value_the_production_check_requires_is_required_by_compose(
    monkeypatch: pytest.MonkeyPatch,
):
    # Left empty, a value is either refused by compose with its name, or not needed by the
    # OMS in production: never an `up` whose containers then refuse to start.
    env = filled()
    for name in env:
        try:
            found = interpolate(compose(), {**env, name: ""})
        except Refused as refused:
            assert str(refused) == name
            continue
        for service in ("api", "worker"):
            with monkeypatch.context() as patch:
                settings_of(found["services"][service], patch)


def compose_plugin() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(
    not compose_plugin(),
    reason="the docker client here has no compose plugin (`docker compose config` needs no engine)",
)
def test_docker_compose_reads_the_file_as_these_tests_do(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in filled().items()))
    run = subprocess.run(
        ["docker", "compose", "--env-file", str(env_file), "-f", str(COMPOSE), "config"]
        + ["--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)["services"]
    assert found["api"]["image"] == found["worker"]["image"]
    assert found["worker"]["environment"]["OMS_OPTION_SECRET"]
