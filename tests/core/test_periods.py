from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prm.core.periods import BillingPeriod


def test_parse_and_bounds_are_half_open_in_utc():
    period = BillingPeriod.parse("2026-02")
    assert period.start == datetime(2026, 2, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 3, 1, tzinfo=UTC)
    assert period.start in period
    assert period.end not in period
    assert str(period) == "2026-02"


def test_year_boundaries():
    assert BillingPeriod(2026, 12).next() == BillingPeriod(2027, 1)
    assert BillingPeriod(2026, 1).previous() == BillingPeriod(2025, 12)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-01", "2026/01", "", "2026-1"])
def test_bad_periods_are_refused(text):
    with pytest.raises(ValueError):
        BillingPeriod.parse(text)


def test_containing_converts_to_utc_and_refuses_naive_times():
    late_evening_new_york = datetime(2026, 1, 31, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert BillingPeriod.containing(late_evening_new_york) == BillingPeriod(2026, 2)
    with pytest.raises(ValueError):
        BillingPeriod.containing(datetime(2026, 1, 1))  # noqa: DTZ001  the naive time is the point


# hypothesis bounds are naive by its API; the generated moments carry UTC.
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))  # noqa: DTZ001
def test_every_instant_falls_in_exactly_one_period(moment):
    period = BillingPeriod.containing(moment)
    assert moment in period
    assert moment not in period.next()
    assert moment not in period.previous()
    assert period.previous().end == period.start
