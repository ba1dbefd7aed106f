"""period_usage at bounds inside an hour: a plan change at 10:30 splits usage at 10:30 exactly.

Whole hours are read from rollups and the cut hour from its events; for every aggregation the
two sides of a cut must be what the events on each side say.
"""

from datetime import UTC, datetime, timedelta

import pytest

from prm.plans.services import metric_create
from prm.usage.ingest import events_ingest
from prm.usage.parsing import cloudevent
from prm.usage.selectors import period_usage

NINE, TEN, ELEVEN = (datetime(2026, 11, 2, hour, tzinfo=UTC) for hour in (9, 10, 11))
CUT = TEN + timedelta(minutes=30)
# (minute after 10:00 or a whole other hour, value, distinct key); 09:50 and 11:05 sit outside the cut hour.
EVENTS = [
    (NINE + timedelta(minutes=50), 4, "dev-1"),
    (TEN + timedelta(minutes=10), 5, "dev-1"),
    (TEN + timedelta(minutes=20), 9, "dev-2"),
    (TEN + timedelta(minutes=40), 7, "dev-3"),
    (ELEVEN + timedelta(minutes=5), 2, "dev-1"),
]
# Expected over [09:00, 10:30) and [10:30, 12:00) per aggregation.
EXPECTED = {
    "count": (3, 2),
    "sum": (18, 9),
    "max": (9, 7),
    "latest": (9, 2),
    "unique_count": (2, 2),  # dev-1, dev-2 | dev-3, dev-1
}


@pytest.mark.django_db
@pytest.mark.parametrize("aggregation", sorted(EXPECTED))
def test_usage_splits_exactly_at_a_bound_inside_an_hour(world, aggregation):
    metric = metric_create(
        actor=world.manager, code=f"m_{aggregation}", name=aggregation, unit="unit", aggregation=aggregation,
        field="" if aggregation == "count" else ("device" if aggregation == "unique_count" else "v"),
    )  # fmt: skip
    events = [
        cloudevent(index, {"specversion": "1.0", "id": f"e{index}", "source": "bounds", "type": metric.code,
                           "subject": "cus_a1", "time": at.isoformat(), "data": {"v": value, "device": key}})
        for index, (at, value, key) in enumerate(EVENTS)
    ]  # fmt: skip
    assert events_ingest(events, actor=world.manager).accepted == len(EVENTS)

    def usage(start, end):
        return period_usage(customer_id=world.customer_a1.pk, metric=metric, start=start, end=end)

    end = ELEVEN + timedelta(hours=1)
    before, after = EXPECTED[aggregation]
    assert (usage(NINE, CUT), usage(CUT, end)) == (before, after)
    # Both bounds inside one hour, and a window with no whole hour at all.
    assert usage(TEN + timedelta(minutes=15), TEN + timedelta(minutes=45)) == {
        "count": 2, "sum": 16, "max": 9, "latest": 7, "unique_count": 2,
    }[aggregation]  # fmt: skip
    # Whole hours still come from the rollups, and agree with the cut reads taken together.
    whole = usage(NINE, end)
    if aggregation in ("count", "sum"):
        assert whole == before + after
    assert whole == {"count": 5, "sum": 27, "max": 9, "latest": 2, "unique_count": 3}[aggregation]
