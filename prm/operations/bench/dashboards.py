"""Bench section `dashboards`: each role's dashboard on a generated dataset, against a bare page.

What is measured, in one run on one database:
- a dataset from `generate_dataset` (`--partners`, `--customers`, `--dataset-events`) over the last
  `months` full months and the current one so far, with the demo's commission program and reference
  exchange rates; its full months are closed with `period_close`, so the dashboards read what they
  read in production: finalized invoices, the commission ledger, statements, tier evaluations, next
  to the rollups and the open month's live drafts;
- three people made for the run: a channel manager, a partner admin of the partner with the most
  customers, and a customer admin of that partner's first customer;
- each dashboard (`/` as each of them) and the baseline, a bare page: `/` as a signed-in person
  without a role (the same URL, middleware, session, user lookup and page frame, no figures),
  rendered `requests` times each, in interleaved rounds (so drift hits all alike), after `warmup`
  unmeasured rounds. Each render goes through Django's full request handler in this process (the
  test Client: middleware, view, template, response), timed from the call to the complete response:
  server time without the network. Like a web worker (prm/wsgi.py), the process freezes its
  long-lived objects after its first requests (prm/core/gc_freeze.py), so the full garbage
  collections it then runs walk what the renders make, not the app and the dataset's leftovers.
  p50 and p95 of each, in milliseconds, one line each
  (`dashboard_manager_p50`, `dashboard_manager_p95`, … `dashboard_customer_p95`), each against the
  bare page's same percentile.

It runs with the command's settings (DEBUG as set), with the loopback bench's exceptions: the
managers' MFA requirement off, plain HTTP, and static URLs without the collectstatic manifest.

Isolation: closing periods finalizes every subscription and takes invoice numbers, so — like the
`rating` section, whose scratch-database helper it uses — it never runs on the configured database:
it creates a scratch database beside it, measures there and drops it.
"""

import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count
from django.test import Client, override_settings
from django.utils import timezone

from prm.accounts.models import Membership, Role, User
from prm.core import gc_freeze
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer
from prm.operations.bench.common import BenchError, Context, Line, database_vendor, percentile
from prm.operations.bench.rating import scratch_database
from prm.operations.dataset import DatasetError, generate_dataset
from prm.operations.demo import demo_fixtures_dir
from prm.operations.demo_incentives import seed_commission_rules
from prm.operations.period_close import period_close
from prm.partners.services import exchange_rates_load

DASHBOARDS = ("manager", "partner", "customer")
EMAIL_DOMAIN = "bench.invalid"
# Static URLs without collectstatic's manifest (a production server has one; computing a URL costs the same).
PLAIN_STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


@dataclass(frozen=True)
class DashboardSizes:
    """The dataset and the number of renders. The dataset's sizes come from the command's flags."""

    partners: int = 100
    customers: int = 1_000
    dataset_events: int = 400_000
    months: int = 2  # full months, each closed: growth compares the last two
    requests: int = 30  # measured renders of each page
    warmup: int = 3  # unmeasured rounds first (caches, connections, the first query plans)
    seed: int = 1

    @classmethod
    def from_context(cls, context: Context) -> "DashboardSizes":
        return cls(partners=context.partners, customers=context.customers, dataset_events=context.dataset_events)


@dataclass(frozen=True)
class People:
    manager: User
    partner_admin: User
    customer_admin: User
    nobody: User  # signed in, without a role: the bare page


def run(context: Context) -> Iterator[Line]:
    sizes = DashboardSizes.from_context(context)
    with scratch_database(context.log):
        lines = measure(sizes, log=context.log)
    yield from lines


def measure(sizes: DashboardSizes, *, log, now: datetime | None = None) -> list[Line]:
    """Generate and close the dataset, then time the dashboards and the bare page, in the current database."""
    if sizes.months < 1 or sizes.requests < 1 or sizes.warmup < 0:
        raise BenchError("The dashboards bench needs months >= 1, requests >= 1 and warmup >= 0.")
    database = database_vendor()
    now = now or timezone.now()
    people = _prepare(sizes, log=log, now=now)
    log(f"bench dashboards: rendering each dashboard and the bare page {sizes.requests} times ({sizes.warmup} warm-up)")
    timings = render_times(people, requests=sizes.requests, warmup=sizes.warmup)
    bare = timings["bare"]
    lines = []
    for name in DASHBOARDS:
        for p in (50, 95):
            value, baseline = percentile(timings[name], p), percentile(bare, p)
            lines.append(Line(f"dashboard_{name}_p{p}", value, "ms", baseline, database))
        log(
            f"bench dashboards: {name}: p50 {percentile(timings[name], 50):.1f} ms, p95 "
            f"{percentile(timings[name], 95):.1f} ms (bare page p50 {percentile(bare, 50):.1f} ms)"
        )
    return lines


def _prepare(sizes: DashboardSizes, *, log, now: datetime) -> People:
    last = BillingPeriod.containing(now).previous()
    periods = [last]
    while len(periods) < sizes.months:
        periods.append(periods[-1].previous())
    periods.reverse()
    manager = _person("manager", Role.MANAGER)
    log(
        f"bench dashboards: generating {sizes.partners} partners, {sizes.customers} customers, "
        f"{sizes.dataset_events} events over {sizes.months} months on {database_vendor()}"
    )
    try:
        dataset = generate_dataset(
            partners=sizes.partners, customers=sizes.customers, events=sizes.dataset_events, months=sizes.months,
            seed=sizes.seed, now=now, progress=log,
        )  # fmt: skip
    except DatasetError as error:
        raise BenchError(f"The dashboards bench needs a new dataset with open periods: {error}") from error
    log(f"bench dashboards: {dataset}")
    # The demo's program (one revenue share per tier, which the dataset made), in force from the
    # dataset's first month, so the closes accrue commissions and gather statements; and its reference
    # exchange rates, so revenue in every currency the dataset bills counts in the program currency.
    seed_commission_rules(actor=manager, since=periods[0], now=now)
    exchange_rates_load(demo_fixtures_dir() / "exchange_rates.json")
    for period in periods:
        started = time.perf_counter()
        closed = period_close(period=period)
        log(f"bench dashboards: {closed} ({time.perf_counter() - started:.1f} s)")
    biggest = (
        Customer.objects.order_by()
        .values("reseller")
        .annotate(customers=Count("pk"))
        .order_by("-customers", "reseller")
        .first()
    )
    if biggest is None:
        raise BenchError("The dataset has no customers: there is no partner or customer dashboard to render.")
    customer = Customer.objects.filter(reseller=biggest["reseller"]).order_by("pk").first()
    log(
        f"bench dashboards: the partner admin's partner has {biggest['customers']} customers; "
        f"the customer is {customer.external_id}"
    )
    return People(
        manager=manager,
        partner_admin=_person("partner-admin", Role.PARTNER_ADMIN, partner_id=biggest["reseller"]),
        customer_admin=_person("customer-admin", Role.CUSTOMER_ADMIN, customer=customer),
        nobody=_person("nobody", None),
    )


def _person(name: str, role: str | None, **organisation) -> User:
    user = User.objects.create_user(f"{name}@{EMAIL_DOMAIN}", None, full_name=f"Bench {name.replace('-', ' ')}")
    if role is not None:
        Membership.objects.create(user=user, role=role, **organisation)
    return User.objects.get(pk=user.pk)


def render_times(people: People, *, requests: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of each render of `/` for each person, in interleaved rounds (see the module's docstring)."""
    users = {
        "bare": people.nobody,
        "manager": people.manager,
        "partner": people.partner_admin,
        "customer": people.customer_admin,
    }
    clients = {}
    for name, user in users.items():
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        clients[name] = client
    timings: dict[str, list[float]] = {name: [] for name in users}
    storages = {**settings.STORAGES, "staticfiles": PLAIN_STATIC}
    with override_settings(
        PRM_MFA_REQUIRED_FOR_MANAGERS=False,
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
        SECURE_SSL_REDIRECT=False,
        STORAGES=storages,
    ):
        gc_freeze.install()  # what a web worker does (prm/wsgi.py)
        try:
            _render_rounds(clients, timings, requests=requests, warmup=warmup)
        finally:
            gc_freeze.uninstall()
            gc.unfreeze()  # whatever runs next in this process (the test suite) collects as usual
    return timings


def _render_rounds(clients: dict[str, Client], timings: dict[str, list[float]], *, requests: int, warmup: int) -> None:
    for round_number in range(warmup + requests):
        for name, client in clients.items():
            started = time.perf_counter()
            response = client.get("/")
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise BenchError(f"The {name} page answered {response.status_code}: no figure to report.")
            if round_number >= warmup:
                timings[name].append(elapsed)
