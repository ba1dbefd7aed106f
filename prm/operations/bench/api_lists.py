"""Bench section `api_lists`: the main REST list routes on a generated dataset, against a bare API call.

What is measured, in one run on one database:
- the dashboards section's dataset (`generate_dataset` with `--partners`, `--customers`,
  `--dataset-events`), its last full month closed with `period_close`, so the lists hold what they
  hold in production: finalized invoices, commission entries, customers, usage events;
- an API key for each of two people made for the run: a channel manager (the widest scope) and a
  partner admin of the partner with the most customers (the scoped path: `visible_to` joins);
- each list route, first page at the default page size (`GET /api/v1/customers/`, `invoices/`,
  `commissions/`, `events`), as each of them, and the baseline: the API root `GET /api/v1/` with
  the manager's key (the same middleware, key lookup, permission check, throttle and JSON
  renderer; no query of its own). Each is called `requests` times in interleaved rounds after
  `warmup` unmeasured rounds, through Django's full request handler in this process (the test
  Client, `Authorization: Bearer <key>`), timed from the call to the complete response. p50 and
  p95 of each, in milliseconds, one line each (`api_list_customers_manager_p50`, …), each against
  the bare call's same percentile.

Settings as in the `dashboards` section (the command's, with the loopback bench's exceptions). It
never runs on the configured database: like `rating`, it measures in a scratch database it drops.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from prm.accounts.services import api_key_create
from prm.operations.bench.common import BenchError, Context, Line, database_vendor, percentile
from prm.operations.bench.dashboards import DashboardSizes, People
from prm.operations.bench.dashboards import _prepare as prepare_closed_dataset
from prm.operations.bench.rating import scratch_database

# The lists a partner integration pages through most, by route (all under /api/v1/).
ROUTES = {
    "customers": "/api/v1/customers/",
    "invoices": "/api/v1/invoices/",
    "commissions": "/api/v1/commissions/",
    "events": "/api/v1/events",
}
ROLES = ("manager", "partner")
BARE = "/api/v1/"
PLAIN_STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


@dataclass(frozen=True)
class ApiListSizes:
    partners: int = 100
    customers: int = 1_000
    dataset_events: int = 400_000
    months: int = 1  # the last full month, closed: its invoices and commissions fill the lists
    requests: int = 30
    warmup: int = 3
    seed: int = 1

    @classmethod
    def from_context(cls, context: Context) -> "ApiListSizes":
        return cls(partners=context.partners, customers=context.customers, dataset_events=context.dataset_events)


def run(context: Context) -> Iterator[Line]:
    sizes = ApiListSizes.from_context(context)
    with scratch_database(context.log):
        lines = measure(sizes, log=context.log)
    yield from lines


def measure(sizes: ApiListSizes, *, log, now: datetime | None = None) -> list[Line]:
    """Generate and close the dataset, then time the list routes and the bare call, in the current database."""
    if sizes.months < 1 or sizes.requests < 1 or sizes.warmup < 0:
        raise BenchError("The API lists bench needs months >= 1, requests >= 1 and warmup >= 0.")
    database = database_vendor()
    people = prepare_closed_dataset(
        DashboardSizes(
            partners=sizes.partners, customers=sizes.customers, dataset_events=sizes.dataset_events,
            months=sizes.months, seed=sizes.seed,
        ),
        log=log, now=now or timezone.now(),
    )  # fmt: skip
    log(
        f"bench api_lists: calling {len(ROUTES)} routes as {len(ROLES)} people and the bare call {sizes.requests} times"
    )
    timings = call_times(people, requests=sizes.requests, warmup=sizes.warmup)
    bare = timings["bare"]
    lines = []
    for route in ROUTES:
        for role in ROLES:
            name = f"{route}_{role}"
            p50, p95 = percentile(timings[name], 50), percentile(timings[name], 95)
            lines.append(Line(f"api_list_{name}_p50", p50, "ms", percentile(bare, 50), database))
            lines.append(Line(f"api_list_{name}_p95", p95, "ms", percentile(bare, 95), database))
            log(f"bench api_lists: {route} as {role}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    log(f"bench api_lists: bare call p50 {percentile(bare, 50):.1f} ms, p95 {percentile(bare, 95):.1f} ms")
    return lines


def call_times(people: People, *, requests: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of each call, per `<route>_<role>` and `bare`, in interleaved rounds."""
    keys = {}
    for role, user in (("manager", people.manager), ("partner", people.partner_admin)):
        _, secret = api_key_create(user=user, name=f"bench api {role}")
        keys[role] = secret
    calls = {"bare": (keys["manager"], BARE)}
    for route, path in ROUTES.items():
        for role in ROLES:
            calls[f"{route}_{role}"] = (keys[role], path)
    clients = {role: Client(headers={"Authorization": f"Bearer {secret}"}) for role, secret in keys.items()}
    by_secret = {secret: clients[role] for role, secret in keys.items()}
    timings: dict[str, list[float]] = {name: [] for name in calls}
    with override_settings(
        PRM_MFA_REQUIRED_FOR_MANAGERS=False,
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
        SECURE_SSL_REDIRECT=False,
        STORAGES={**settings.STORAGES, "staticfiles": PLAIN_STATIC},
    ):
        for round_number in range(warmup + requests):
            for name, (secret, path) in calls.items():
                started = time.perf_counter()
                response = by_secret[secret].get(path, HTTP_ACCEPT="application/json")
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise BenchError(f"GET {path} ({name}) answered {response.status_code}: no figure to report.")
                if round_number == 0 and name != "bare" and not response.json().get("results"):
                    raise BenchError(f"GET {path} ({name}) listed nothing: an empty page measures no list.")
                if round_number >= warmup:
                    timings[name].append(elapsed)
    return timings
