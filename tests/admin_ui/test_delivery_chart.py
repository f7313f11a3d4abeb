"""The Event delivery chart places bars on a time axis: one slot per hour of the window."""

from datetime import timedelta

from django.utils import timezone

from runtime.admin_charts import CHART_PAD, CHART_WIDTH, delivery_chart


def test_bars_sit_in_their_hour_and_stack_by_kind():
    until = timezone.now().replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(hours=10)
    series = [
        {"bucket": since + timedelta(hours=2, minutes=5), "delivered": 3, "retried": 0, "failed": 1},
        {"bucket": since + timedelta(hours=2, minutes=40), "delivered": 1, "retried": 0, "failed": 0},
        {"bucket": since + timedelta(hours=9), "delivered": 0, "retried": 2, "failed": 0},
        {"bucket": since - timedelta(hours=1), "delivered": 50, "retried": 0, "failed": 0},  # outside
    ]
    chart = delivery_chart(series, since=since, until=until)
    assert chart["max"] == 5  # 4 delivered + 1 failed in hour 2; the point outside is ignored
    slot = (CHART_WIDTH - CHART_PAD) / 10
    by_kind = {(b["kind"], b["x"]): b["count"] for b in chart["bars"]}
    assert by_kind == {
        ("delivered", round(CHART_PAD + 2 * slot, 1)): 4,
        ("failed", round(CHART_PAD + 2 * slot, 1)): 1,
        ("retried", round(CHART_PAD + 9 * slot, 1)): 2,
    }


def test_no_traffic_draws_no_bars():
    assert delivery_chart([])["bars"] == []
