"""Billing test set-up: a catalogue made through the plan services and usage through ingestion."""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.services import subscription_create
from prm.plans.services import metric_create, plan_create
from prm.usage.ingest import events_ingest
from prm.usage.parsing import cloudevent

# October 2026: a past month (the tests' clock is later), free to bill and to close.
OCTOBER = BillingPeriod(2026, 10)
_ids = itertools.count(1)


@dataclass
class Catalogue:
    api_calls: object  # sum of data.calls
    storage: object  # max of data.gb
    seats: object  # latest of data.seats
    units: object  # sum of data.n


@pytest.fixture
def catalogue(world) -> Catalogue:
    def make(code, aggregation, field):
        return metric_create(
            actor=world.manager, code=code, name=code.replace("_", " ").title(), unit="unit",
            aggregation=aggregation, field=field,
        )  # fmt: skip

    return Catalogue(
        api_calls=make("api_calls", "sum", "calls"),
        storage=make("storage", "max", "gb"),
        seats=make("seats", "latest", "seats"),
        units=make("units", "sum", "n"),
    )


@pytest.fixture
def make_plan(world, catalogue):
    def _make_plan(code, charges, minimum_commitment=None):
        return plan_create(
            actor=world.manager, code=code, name=code.title(), currency="USD", charges=charges,
            minimum_commitment=minimum_commitment,
        )  # fmt: skip

    return _make_plan


@pytest.fixture
def subscribe(world):
    def _subscribe(plan, customer=None, external_id=None, started_at="2026-10-01T00:00:00Z", **fields):
        customer = customer or world.customer_a1
        return subscription_create(
            actor=world.manager, plan=plan, customer=customer,
            external_id=external_id or f"sub_{customer.external_id}_{plan.code}",
            started_at=_time(started_at), **fields,
        )  # fmt: skip

    return _subscribe


@pytest.fixture
def send(world):
    """send((customer external id, metric code, ISO time, data), …): ingested as a channel manager."""

    def _send(*events, expect="accepted"):
        incoming = [
            cloudevent(index, {"specversion": "1.0", "id": f"ev-{next(_ids)}", "source": "billing-tests",
                               "type": metric, "subject": customer, "time": time, "data": data})
            for index, (customer, metric, time, data) in enumerate(events)
        ]  # fmt: skip
        result = events_ingest(incoming, actor=world.manager)
        assert getattr(result, expect) == len(events), result.as_dict()
        return result

    return _send


def _time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value


def close(period: BillingPeriod = OCTOBER) -> None:
    """Mark a period closed the way the period close does first (without finalizing anything)."""
    ClosedBillingPeriod.objects.get_or_create(period=str(period))


def at(day: int, hour: int = 10) -> str:
    return datetime(2026, 10, day, hour, tzinfo=UTC).isoformat()
