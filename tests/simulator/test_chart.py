"""report.png is written whatever the report holds: a full period, or nothing yet."""

from datetime import UTC, date, datetime, timedelta

from matplotlib.image import imread

from simulator.chart import draw_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
START = datetime(2026, 12, 18, tzinfo=UTC)


def report(by_day: list[dict], backlog: list[dict]) -> dict:
    return {
        "scenario": "peak",
        "policy": "nearest",
        "otif": 0.95,
        "orders": sum(d["orders"] for d in by_day),
        "by_day": by_day,
        "backlog": backlog,
    }


def day(i: int, otif: float) -> dict:
    return {
        "day": str(date(2026, 12, 20) + timedelta(days=i)),
        "orders": 100 * (i + 1),
        "otif": otif,
        "on_time": otif + 0.02,
        "in_full": otif + 0.01,
    }


def sample(hour: int) -> dict:
    return {
        "at": (START + timedelta(hours=hour)).isoformat(),
        "placed": 10 + hour,
        "open": 20 * hour,
        "exceptions": hour // 4,
        "delivered": 5 * hour,
    }


def test_a_full_report_draws_an_11x7_inch_png_at_110_dpi(tmp_path):
    by_day = [day(i, otif) for i, otif in enumerate([0.97, 0.91, 0.95])]
    backlog = [sample(h) for h in range(48)]
    path = tmp_path / "report.png"

    draw_report(report(by_day, backlog), path)

    assert path.read_bytes()[:8] == PNG_MAGIC
    height, width = imread(path).shape[:2]
    assert abs(width - 1210) <= 5 and abs(height - 770) <= 5


def test_an_empty_report_still_draws_a_png(tmp_path):
    path = tmp_path / "report.png"

    draw_report(report([], []), path)

    assert path.read_bytes()[:8] == PNG_MAGIC
