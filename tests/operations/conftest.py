from datetime import timedelta

import pytest

from prm.operations import demo
from prm.operations.demo_usage import seed_usage


@pytest.fixture
def three_days_of_usage(monkeypatch):
    """Three days of usage keep tests about the rest of the demo quick
    (test_demo_usage.py seeds the full six months)."""

    def seed_three_days(customers, **options):
        return seed_usage(customers, **{**options, "start": options["now"].date() - timedelta(days=3)})

    monkeypatch.setattr(demo, "seed_usage", seed_three_days)
