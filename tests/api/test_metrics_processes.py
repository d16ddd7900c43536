"""Several API processes behind one port (`OMS_API_WORKERS=2`): one scrape of /metrics
counts the promises every process answered, not the share of the one that was asked."""

import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

BIN = Path(sys.executable).parent
KEY = "test-checkout-key-0123456789"
CART = {
    "lines": [{"sku": "SKU-1", "qty": 1}],
    "destination": {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.2)


def promise_count(exposition: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "oms_promise_seconds_count":
                return sample.value
    raise AssertionError("no oms_promise_seconds_count in the exposition")


def shares(folder: Path, scratch: Path) -> dict[str, float]:
    """Promises counted by each process, read from its own files alone: which processes
    really answered (a test where one process took every request would prove nothing)."""
    counts: dict[str, float] = {}
    for histogram in folder.glob("histogram_*.db"):
        pid = histogram.stem.removeprefix("histogram_")
        alone = scratch / pid
        alone.mkdir(exist_ok=True)
        shutil.copy(histogram, alone / histogram.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        samples = [s for m in registry.collect() for s in m.samples]
        counts[pid] = sum(s.value for s in samples if s.name == "oms_promise_seconds_count")
    return counts


def ask(port: int) -> None:
    # A connection of its own each time: the kernel hands connections, not requests, to
    # whichever process accepts first.
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/promise",
        json=CART,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_one_scrape_counts_the_promises_of_every_api_process(
    engine: Engine, sqlite_url: str, tmp_path: Path
):
    port = free_port()
    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PROMETHEUS_"))},
        "OMS_DATA_DIR": str(data),
        "OMS_DATABASE_URL": sqlite_url,
        "OMS_API_PORT": str(port),
        "OMS_API_WORKERS": "2",
        "OMS_API_KEYS": f"checkout:{KEY}",
        "OMS_SIGNING_SECRET": "test-signing-secret-0123456789abcdef",
        "OMS_SKIP_MIGRATIONS": "1",
    }
    log = tmp_path / "api.log"
    with open(log, "wb") as out:
        api = subprocess.Popen([str(BIN / "oms"), "api"], env=env, stdout=out, stderr=out)
    try:
        wait_for_port(port, api, log)
        folder = data / f"api-metrics-{port}"  # where `oms api` keeps its workers' counts
        scratch = tmp_path / "shares"
        scratch.mkdir()
        sent = 0
        with ThreadPoolExecutor(6) as pool:
            for _ in range(30):  # until both processes have answered some
                list(pool.map(ask, [port] * 12))
                sent += 12
                if sum(1 for n in shares(folder, scratch).values() if n > 0) >= 2:
                    break
        answered = shares(folder, scratch)
        assert len([n for n in answered.values() if n > 0]) == 2, answered
        assert sum(answered.values()) == sent

        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
        assert scraped.status_code == 200
        assert promise_count(scraped.text) == sent  # both processes' promises, in one scrape
        # The database's figures are told once, not once per process.
        assert scraped.text.count('oms_orders{status="placed"}') == 1
    finally:
        api.terminate()
        api.wait(20)
