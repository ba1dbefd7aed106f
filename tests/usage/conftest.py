"""Shared set-up for the metering tests: the catalogue of metrics and API keys per role."""

from dataclasses import dataclass

import pytest

from prm.accounts.services import api_key_create
from prm.plans.services import metric_create


@dataclass
class Metrics:
    api_calls: object  # sum of data.calls
    peak_storage: object  # max of data.gb
    seats: object  # latest of data.seats
    active_devices: object  # unique_count of data.device
    logins: object  # count
    credits: object  # sum of data.amount, negative values allowed


@pytest.fixture
def metrics(world) -> Metrics:
    """The vendor's catalogue, made through the service a channel manager uses."""

    def make(code, aggregation, field="", **extra):
        return metric_create(
            actor=world.manager, code=code, name=code.replace("_", " ").title(), unit="unit",
            aggregation=aggregation, field=field, **extra,
        )  # fmt: skip

    return Metrics(
        api_calls=make("api_calls", "sum", "calls"),
        peak_storage=make("peak_storage", "max", "gb"),
        seats=make("seats", "latest", "seats"),
        active_devices=make("active_devices", "unique_count", "device"),
        logins=make("logins", "count"),
        credits=make("credits", "sum", "amount", allow_negative=True),
    )


@pytest.fixture
def bearer(world):
    """`bearer(user)` → the META of an `Authorization: Bearer <new key of user>` header."""

    def _bearer(user, name="metering pipeline") -> dict:
        _key, secret = api_key_create(user=user, name=name)
        return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    return _bearer


@pytest.fixture
def api_key(world):
    """`api_key(user)` → (ApiKey, META with its Bearer header)."""

    def _api_key(user, name="metering pipeline"):
        key, secret = api_key_create(user=user, name=name)
        return key, {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    return _api_key
