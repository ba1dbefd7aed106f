"""Deal tests: a catalogue made through the plan services, and helpers to register through the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from prm.plans.services import metric_create, plan_create

# A graduated API plan with a platform fee and a minimum, the worked example of the proposal tests.
GRADUATED_CALLS = {"model": "graduated", "metric": "api_calls", "tiers": [
    {"up_to": 1000, "unit_amount": "0", "flat_amount": "0"},
    {"up_to": 10000, "unit_amount": "0.002", "flat_amount": "5"},
    {"up_to": None, "unit_amount": "0.0015", "flat_amount": "0"},
]}  # fmt: skip
PLATFORM_FEE = {"model": "flat", "amount": "49"}


@pytest.fixture
def plan(world):
    for code, aggregation, field in (("api_calls", "sum", "calls"), ("seats", "max", "seats")):
        metric_create(
            actor=world.manager, code=code, name=code.replace("_", " ").title(), unit="unit",
            aggregation=aggregation, field=field,
        )  # fmt: skip
    return plan_create(
        actor=world.manager, code="api-grad", name="API Graduated", currency="USD",
        charges=[PLATFORM_FEE, GRADUATED_CALLS], minimum_commitment="100",
    )  # fmt: skip


def close_date(days: int = 30) -> str:
    return (timezone.now() + timedelta(days=days)).date().isoformat()


@pytest.fixture
def register(client, plan):
    """register(user, **fields) → the API's response to POST /api/v1/deals/."""

    def _register(user, **fields):
        body = {
            "company": "Zeta Robotics GmbH", "domain": "zeta-robotics.example", "plan": plan.code,
            "expected_close": close_date(), "expected_usage": {"api_calls": "12345"}, "use_case": "api_calls",
            **fields,
        }  # fmt: skip
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client.post("/api/v1/deals/", body, content_type="application/json")

    return _register
