"""OTIF reports and Prometheus metrics."""

import hmac
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api import metrics
from api.deps import NowDep, SessionDep, SettingsDep, Support
from db.reports import (
    orders_by_status,
    orders_promised_between,
    proposals_waiting,
    reconciled_orders,
    total_reroutes,
    transfers_by_status,
)
from domain.ids import Day
from domain.order import OrderStatus
from domain.otif_report import GroupBy, OtifReport, otif_report
from domain.transfer import TransferStatus

router = APIRouter(tags=["reports"])


@router.get("/v1/reports/otif", response_model=OtifReport, dependencies=[Support])
def otif(
    session: SessionDep,
    now: NowDep,
    from_: Annotated[Day | None, Query(alias="from")] = None,
    to: Annotated[Day | None, Query()] = None,
    group_by: GroupBy = "none",
) -> OtifReport:
    """OTIF, on-time and in-full rates of the orders promised in [from, to] (default: the
    last 30 days), and for each miss its cause (rules in domain/otif_report.py)."""
    today = now.date()
    end = to or today
    start = from_ or end - timedelta(days=30)
    if start > end or (end - start).days > 400:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "from must be before to, within 400 days"
        )
    return otif_report(orders_promised_between(session, start, end), today, group_by)


def scraper(settings: SettingsDep, authorization: Annotated[str, Header()] = "") -> None:
    """Production's /metrics answers only the scrape key (OMS_METRICS_KEY): the counts say
    how the business goes, and Prometheus' config must not hold a key that opens anything
    else. No scrape key set: refused. Development: open."""
    if settings.env != "prod":
        return
    scheme, _, key = authorization.partition(" ")
    expected = settings.metrics_key.get_secret_value()
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(key.encode(), expected.encode())
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the metrics need the scrape key (OMS_METRICS_KEY) as a bearer key",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(scraper)])
def prometheus(session: SessionDep) -> Response:
    """Prometheus: orders by status, exceptions and reroutes (from the read model), and the
    promise and request latencies (api/metrics.py: every API process's, summed)."""
    counts = orders_by_status(session)
    by_status = GaugeMetricFamily("oms_orders", "Orders by status", labels=["status"])
    for value in OrderStatus:
        by_status.add_metric([value.value], counts.get(value.value, 0))
    moved = transfers_by_status(session)
    transfers = GaugeMetricFamily("oms_transfers", "Transfer orders by status", labels=["status"])
    for kind in TransferStatus:
        transfers.add_metric([kind.value], moved.get(kind.value, 0))
    # Families, not Gauge objects: in multiprocess mode a Gauge would write itself into the
    # shared files, and the database's figures would be told once more per process.
    families: list[Metric] = [
        by_status,
        GaugeMetricFamily(
            "oms_exceptions",
            "Orders waiting for a person",
            value=counts.get(OrderStatus.EXCEPTION.value, 0),
        ),
        GaugeMetricFamily(
            "oms_reroutes",
            "Shipments moved off a failing node or carrier, all orders",
            value=total_reroutes(session),
        ),
        GaugeMetricFamily(
            "oms_reconciled_orders",
            "Orders whose workflow ended without closing them, closed by the reconciliation",
            value=reconciled_orders(session),
        ),
        transfers,
        GaugeMetricFamily(
            "oms_replenishment_proposals_waiting",
            "Store replenishment proposals waiting for an approval",
            value=proposals_waiting(session),
        ),
    ]
    registry = CollectorRegistry()
    registry.register(_Told(families))
    body = generate_latest(registry) + metrics.exposition()
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _Told(Collector):
    """Metric families read once, for one scrape."""

    def __init__(self, families: list[Metric]):
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families
