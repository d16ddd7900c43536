"""Promise benchmark: 200 nodes, 10,000 SKUs, 5-line carts (`make bench`).

Measures, on this machine:
1. the engine alone (domain.promise on the in-memory supply chain): latency p50/p99, with
   nothing learned from the field, then with lead times learned from a synthetic record;
2. through HTTP (`oms api`, SQLite, N worker processes): latency p50/p99 of one client at
   a time, then throughput under load from several client processes, against the
   trivial `/livez` endpoint of the same API in the same run (the ratio).

Writes the figures as JSON to --out (default .data/bench/promise.json) and prints them.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from db.engine import make_engine, unit_of_work
from db.migrate import upgrade
from db.network import load_network
from db.supply_chain import load_supply_chain
from domain.lead_times import COLLECT, SHIP, Outcome, learn
from domain.network import NetworkDocument
from domain.promise import PromiseRequest, promise
from domain.supply_chain import SupplyChain

KEY = "bench-checkout-key-0123456789abcdef"
CITIES = [  # (name, lat, lon) in France, where nodes and customers are spread
    ("Paris", 48.86, 2.35),
    ("Lyon", 45.76, 4.83),
    ("Marseille", 43.30, 5.37),
    ("Lille", 50.63, 3.06),
    ("Bordeaux", 44.84, -0.58),
    ("Toulouse", 43.60, 1.44),
    ("Nantes", 47.22, -1.55),
    ("Strasbourg", 48.58, 7.75),
    ("Rennes", 48.11, -1.68),
    ("Nice", 43.70, 7.27),
    ("Montpellier", 43.61, 3.88),
    ("Dijon", 47.32, 5.04),
]


def generated_network(nodes: int = 200, skus: int = 10_000, seed: int = 7) -> dict:
    """20 warehouses holding every SKU, the rest stores holding a third of them."""
    rng = random.Random(seed)
    out_nodes, stock = [], []
    warehouses = max(2, nodes // 10)
    for n in range(nodes):
        city, lat, lon = CITIES[n % len(CITIES)]
        is_dc = n < warehouses
        out_nodes.append(
            {
                "id": f"{'DC' if is_dc else 'ST'}-{n:03d}",
                "type": "warehouse" if is_dc else "store",
                "name": f"{city} {n}",
                "lat": lat + rng.uniform(-0.3, 0.3),
                "lon": lon + rng.uniform(-0.3, 0.3),
                "pick_capacity_per_day": 5000 if is_dc else 80,
                "cutoff": "15:00" if is_dc else "17:00",
                "carriers": ["COLISSIMO", "DPD"],
                "ship_from_store": not is_dc,
                "click_and_collect": not is_dc,
                "protection_qty": 0 if is_dc else 1,
            }
        )
    sku_ids = [f"SKU-{k:05d}" for k in range(skus)]
    for node in out_nodes:
        held = sku_ids if node["type"] == "warehouse" else rng.sample(sku_ids, skus // 3)
        for sku in held:
            stock.append(
                {
                    "sku": sku,
                    "node_id": node["id"],
                    "on_hand": rng.randint(0, 60),
                    "safety_stock": 2,
                }
            )
    return {
        "nodes": out_nodes,
        "carriers": [
            {
                "id": "COLISSIMO",
                "services": [
                    {
                        "id": "COL-STD",
                        "kind": "standard",
                        "cost": 4.9,
                        "bands": [{"max_km": 400, "days": 2}, {"max_km": 1500, "days": 3}],
                    },
                    {
                        "id": "COL-EXP",
                        "kind": "express",
                        "cost": 9.9,
                        "bands": [{"max_km": 1500, "days": 1}],
                    },
                ],
            },
            {
                "id": "DPD",
                "services": [
                    {
                        "id": "DPD-STD",
                        "kind": "standard",
                        "cost": 6.5,
                        "bands": [{"max_km": 300, "days": 1}, {"max_km": 1500, "days": 2}],
                    }
                ],
            },
        ],
        "skus": [{"sku": sku, "name": f"Product {sku}"} for sku in sku_ids],
        "stock": stock,
        "calendar": {
            "holidays": ["2026-12-25"],
            "peaks": [
                {
                    "name": "christmas",
                    "from": "2026-11-20",
                    "to": "2026-12-24",
                    "guarantee_by": "2026-12-24",
                }
            ],
        },
    }


def carts(count: int, skus: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        _, lat, lon = rng.choice(CITIES)
        lines = [
            {"sku": f"SKU-{k:05d}", "qty": rng.randint(1, 3)} for k in rng.sample(range(skus), 5)
        ]
        out.append(
            {
                "lines": lines,
                "destination": {
                    "postal_code": "75001",
                    "country": "FR",
                    "lat": lat + rng.uniform(-0.2, 0.2),
                    "lon": lon + rng.uniform(-0.2, 0.2),
                },
            }
        )
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def field_record(chain: SupplyChain, now: datetime, days: int = 20, seed: int = 5) -> list[Outcome]:
    """A synthetic field record: at every node, one shipment started at every hour of `days`
    days (and one collection at click-and-collect stores), newest start first as `learn`
    expects. Enough per node, hour and lane for everything to count as learned.

    The record ends 4 days before today: the last shipment (started at 23:00, 10 hours at
    most) is handed over the next morning and delivered 3 days later at most, so before
    `now`. Every outcome is complete: with parcels still on the road, the newest ones, which
    fill each lane's window, would be only the fast deliveries, and every lane would be
    learned as never late (no delay distribution to mix, a cheaper promise than the field's)."""
    rng = random.Random(seed)
    outcomes = []
    for node in chain.nodes:
        tz = ZoneInfo(node.timezone)
        today = now.astimezone(tz).date()
        services = [(c, s) for c in node.carriers for s in chain.carriers[c].services]
        kinds = [SHIP] + ([COLLECT] if node.type == "store" and node.click_and_collect else [])
        for day in range(1, days + 1):
            past = today - timedelta(days=day + 4)
            for hour in range(24):
                started = datetime(past.year, past.month, past.day, hour, tzinfo=tz)
                for kind in kinds:
                    lead = rng.triangular(1, 10, 3)
                    if hour < 8:
                        lead += 8 - hour  # work released at night waits for the morning shift
                    handed = started + timedelta(hours=lead)
                    if kind == COLLECT:
                        outcomes.append(Outcome(node.id, kind, started, handed))
                        continue
                    carrier_id, service = rng.choice(services)
                    delivered = handed + timedelta(days=rng.randint(1, 3))
                    outcomes.append(
                        Outcome(
                            node.id,
                            kind,
                            started,
                            handed,
                            carrier_id,
                            service.id,
                            rng.uniform(50, 800),
                            delivered,
                        )
                    )
    outcomes.sort(key=lambda o: o.started_at, reverse=True)
    return outcomes


def measure(chain: SupplyChain, requests: list[PromiseRequest], now: datetime) -> dict:
    for request in requests[:200]:  # warm up (and work out the per-minute node caches)
        promise(request, chain, now)
    times, options = [], 0
    for request in requests:
        t = time.perf_counter()
        answer = promise(request, chain, now)
        times.append((time.perf_counter() - t) * 1000)
        options += len(answer.options)
    return {
        "promises": len(times),
        "p50_ms": round(percentile(times, 0.50), 3),
        "p99_ms": round(percentile(times, 0.99), 3),
        "mean_ms": round(statistics.mean(times), 3),
        # One promise after another on one core: what a single API worker could do at most.
        "promises_per_second": round(len(times) / (sum(times) / 1000)),
        "options_per_cart": round(options / len(times), 2),
    }


def bench_engine(url: str, bodies: list[dict]) -> dict:
    engine = make_engine(url)
    started = time.perf_counter()
    with unit_of_work(engine) as session:
        chain = load_supply_chain(session)
    load_s = time.perf_counter() - started
    now = datetime.now(UTC)
    requests = [PromiseRequest.model_validate(b) for b in bodies]
    results = {"chain_load_s": round(load_s, 2), **measure(chain, requests, now)}

    # The same carts again, planned with what a learned field record says (the default
    # policy plans with learned lead times whenever the chain has some).
    outcomes = field_record(chain, now)
    services = {s.id: s for carrier in chain.carriers.values() for s in carrier.services}
    started = time.perf_counter()
    performance = learn(outcomes, chain.by_id, services, chain.holidays, now)
    learn_s = time.perf_counter() - started
    chain.performance = performance
    results["engine_learned"] = {
        "outcomes": len(outcomes),
        "learn_seconds": round(learn_s, 2),
        "nodes_learned": len({node_id for node_id, _ in performance.lead}),
        "lanes_learned": len(performance.lanes),
        **measure(chain, requests, now),
    }
    return results


def _client(port: int, path: str, bodies: list[bytes], seconds: float, queue) -> None:
    """One client process: sequential keep-alive requests for `seconds`."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    done, errors, times = 0, 0, []
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        if path == "/livez":
            connection.request("GET", path)
        else:
            connection.request("POST", path, body=bodies[n % len(bodies)], headers=headers)
        response = connection.getresponse()
        response.read()
        times.append((time.perf_counter() - t) * 1000)
        done += 1
        errors += response.status != 200
        n += 1
    queue.put((done, errors, times))


def load(port: int, path: str, bodies: list[bytes], clients: int, seconds: float) -> dict:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_client, args=(port, path, bodies, seconds, queue))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    times = [t for _, _, ts in results for t in ts]
    done = sum(r[0] for r in results)
    return {
        "requests": done,
        "errors": sum(r[1] for r in results),
        "per_second": round(done / seconds),
        "p50_ms": round(percentile(times, 0.5), 2),
        "p99_ms": round(percentile(times, 0.99), 2),
    }


def bench_http(
    data_dir: Path, bodies: list[dict], workers: int, clients: int, seconds: float
) -> dict:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "OMS_DATA_DIR": str(data_dir),
        "OMS_API_PORT": str(port),
        "OMS_API_KEYS": f"checkout:{KEY}",
        "OMS_SIGNING_SECRET": "bench-secret-" + "x" * 32,
        "OMS_API_WORKERS": str(workers),
        "OMS_SKIP_MIGRATIONS": "1",
    }
    api = subprocess.Popen(
        [str(Path(sys.executable).parent / "oms"), "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        raw = [json.dumps(b).encode() for b in bodies]
        load(port, "/v1/promise", raw[:50], workers * 2, 5)  # every worker loads its cache
        single = load(port, "/v1/promise", raw, 1, seconds)
        loaded = load(port, "/v1/promise", raw, clients, seconds)
        trivial = load(port, "/livez", raw, clients, seconds)
    finally:
        api.terminate()
        api.wait(20)
    return {
        "api_workers": workers,
        "client_processes": clients,
        "one_client": single,
        "under_load": loaded,
        "trivial_endpoint_under_load": trivial,
        "promise_to_trivial_ratio": round(loaded["per_second"] / max(1, trivial["per_second"]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--carts", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path, default=Path(".data/bench/promise.json"))
    parser.add_argument("--engine-only", action="store_true", help="skip the HTTP part")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="oms-bench-"))
    url = f"sqlite:///{data_dir / 'oms.db'}"
    upgrade(url)
    started = time.perf_counter()
    document = NetworkDocument.model_validate(generated_network(args.nodes, args.skus))
    with unit_of_work(make_engine(url)) as session:
        load_network(session, document)
    results = {
        "network": {
            "nodes": args.nodes,
            "skus": args.skus,
            "stock_rows": len(document.stock),
            "load_s": round(time.perf_counter() - started, 1),
        },
        "cpus": os.cpu_count(),
    }
    bodies = carts(args.carts, args.skus)
    results["engine"] = bench_engine(url, bodies)
    print(json.dumps(results, indent=2), flush=True)
    if not args.engine_only:
        results["http"] = bench_http(data_dir, bodies, args.workers, args.clients, args.seconds)
        print(json.dumps(results["http"], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
