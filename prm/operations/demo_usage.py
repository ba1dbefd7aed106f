"""The demo's metered usage: about six months of it for every demo customer, sent through the
same ingest service the usage API uses (`events_ingest`), as CloudEvents.

What is metered lives in `fixtures/metrics.json` (the metrics and which use case sends which);
who grows, declines or churns lives in the "usage" section of `fixtures/demo.json`; how usage
looks from day to day (levels by size, weekly rhythm, noise, spikes) is written out below.

Everything is deterministic. A customer's profile comes from `random.Random` seeded with its
external id; a day's noise from one seeded with (customer, metric, day); growth compounds from a
fixed anchor date. So a day's value does not depend on which window the seed covers, and every
event's id is derived from (customer, metric, day[, device]): seeding again sends the same events
and the ingest service counts them all as duplicates. Seeding on a later day adds the days since.
(One exception: a churn is dated back from today, so that the demo always shows it; after a
pause longer than that, the days added would show the customer back at its old level.)
"""

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from prm.customers.models import Customer, UseCase
from prm.usage.ingest import events_ingest
from prm.usage.parsing import cloudevent

SOURCE = "https://demo.northwind.cloud/metering"
BATCH_SIZE = 5_000  # events per events_ingest call
DAYS_PER_MONTH = 30.4375

# Daily events are stamped at noon UTC plus a customer's own minute; device reports at 06:00 + n.
DAILY_HOUR = 12
DEVICE_HOUR = 6

SIZES = ("small", "medium", "large")
SIZE_WEIGHTS = (4, 4, 2)

# The level at the anchor date, by customer size: (low, high).
SEATS = {"small": (12, 40), "medium": (60, 160), "large": (220, 600)}
API_CALLS_PER_DAY = {"small": (20_000, 80_000), "medium": (150_000, 600_000), "large": (1_000_000, 4_000_000)}
STORAGE_GB = {"small": (150, 800), "medium": (1_500, 6_000), "large": (15_000, 60_000)}
MACHINES = {"small": (4, 10), "medium": (12, 30), "large": (40, 90)}
DEVICES = {"small": (15, 30), "medium": (40, 80), "large": (100, 180)}

# Monday … Sunday. Offices and factories are quieter at the weekend; storage and sensors are not.
WEEKLY = {
    "active_seats": (1.0, 1.0, 1.0, 0.98, 0.93, 0.3, 0.22),
    "api_calls": (1.0, 1.04, 1.03, 1.0, 0.94, 0.55, 0.5),
    "machine_hours": (1.0, 1.0, 1.0, 1.0, 0.95, 0.4, 0.1),
}
# Standard deviation of the day-to-day noise, as a fraction of the day's level.
NOISE = {
    "active_seats": 0.03,
    "api_calls": 0.08,
    "storage_gb": 0.008,
    "machine_hours": 0.05,
    "units_produced": 0.04,
    "sensor_events": 0.03,
}
# A busy day (a launch, a batch job, an alarm storm) of 3-5 times the usual, about twice in six months.
SPIKY = {"api_calls", "sensor_events"}
SPIKE_CHANCE = 0.012
SHIFT_HOURS = 16  # two shifts a weekday
READINGS_PER_DEVICE = (96, 144, 288)  # every 15, 10 or 5 minutes
DEVICE_OFFLINE_CHANCE = 0.03  # a device silent for a whole week
GROWTH = (0.02, 0.08)  # per month
DECLINE = (-0.07, -0.03)
CHURN_RAMP_DAYS = 10  # a churning customer winds down over this many days …
CHURN_FLOOR = 0.12  # … to this fraction of its level


class DemoUsageError(RuntimeError):
    """The ingest service refused part of the demo's usage: the demo data must be clean."""


@dataclass(frozen=True)
class Profile:
    """How one customer's usage behaves."""

    external_id: str
    use_case: str
    size: str
    growth: float  # per month, from the anchor date
    anchor: date
    minute: int  # the minute past DAILY_HOUR its daily events carry
    level: float  # the use case's main quantity at the anchor (seats, calls, GB, machines, devices)
    churned_on: date | None = None
    units_per_hour: int = 0  # manufacturing
    utilization: float = 0.0  # manufacturing
    readings_per_device: int = 0  # iot

    def trend(self, day: date) -> float:
        """The level on `day` relative to the anchor: compound growth, then a churn's drop."""
        factor = (1 + self.growth) ** ((day - self.anchor).days / DAYS_PER_MONTH)
        if self.churned_on is not None and day >= self.churned_on:
            ramp = min(1.0, ((day - self.churned_on).days + 1) / CHURN_RAMP_DAYS)
            factor *= 1 - ramp * (1 - CHURN_FLOOR)
        return factor


@dataclass
class UsageSeedResult:
    customers: int = 0
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    start: date | None = None


def usage_start(now: datetime, months: int) -> date:
    """The first day of the month `months` months before `now`'s: whole months in every chart."""
    index = now.year * 12 + now.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def profile_for(customer: Customer, usage_config: dict, today: date) -> Profile:
    """A customer's profile from its external id (and the demo's declining and churning lists)."""
    external_id = customer.external_id
    rng = random.Random(f"demo-usage:{external_id}")  # noqa: S311 - demo data, not security
    size = rng.choices(SIZES, weights=SIZE_WEIGHTS)[0]
    churning = usage_config.get("churning", {})
    if external_id in usage_config.get("declining", []):
        growth = rng.uniform(*DECLINE)
    elif external_id in churning:
        growth = rng.uniform(0.0, GROWTH[0])
    else:
        growth = rng.uniform(*GROWTH)
    level_ranges = {
        UseCase.SAAS_SEATS: SEATS,
        UseCase.API_CALLS: API_CALLS_PER_DAY,
        UseCase.STORAGE: STORAGE_GB,
        UseCase.MANUFACTURING: MACHINES,
        UseCase.IOT: DEVICES,
    }[customer.use_case]
    return Profile(
        external_id=external_id,
        use_case=customer.use_case,
        size=size,
        growth=growth,
        anchor=date.fromisoformat(usage_config["anchor"]),
        minute=rng.randrange(60),
        level=rng.uniform(*level_ranges[size]),
        # Counted back from today, so the demo always shows the drop.
        churned_on=today - timedelta(days=churning[external_id]) if external_id in churning else None,
        units_per_hour=rng.randint(5, 60),
        utilization=rng.uniform(0.7, 0.95),
        readings_per_device=rng.choice(READINGS_PER_DEVICE),
    )


# --- values ---------------------------------------------------------------------------------


def _day_rng(profile: Profile, metric: str, day: date) -> random.Random:
    return random.Random(f"demo-usage:{profile.external_id}:{metric}:{day.isoformat()}")  # noqa: S311


def _noisy(rng: random.Random, metric: str) -> float:
    return max(0.5, 1 + rng.gauss(0, NOISE[metric]))


def _spike(rng: random.Random, metric: str) -> float:
    if metric in SPIKY and rng.random() < SPIKE_CHANCE:
        return rng.uniform(3, 5)
    return 1.0


def daily_values(profile: Profile, day: date) -> dict[str, int | str]:
    """The day's quantity of each daily metric of the customer's use case (not active_devices)."""
    weekday = day.weekday()
    trend = profile.trend(day)
    if profile.use_case == UseCase.SAAS_SEATS:
        rng = _day_rng(profile, "active_seats", day)
        seats = profile.level * trend * WEEKLY["active_seats"][weekday] * _noisy(rng, "active_seats")
        return {"active_seats": max(1, round(seats))}
    if profile.use_case == UseCase.API_CALLS:
        rng = _day_rng(profile, "api_calls", day)
        calls = profile.level * trend * WEEKLY["api_calls"][weekday] * _noisy(rng, "api_calls")
        return {"api_calls": max(1, round(calls * _spike(rng, "api_calls")))}
    if profile.use_case == UseCase.STORAGE:
        rng = _day_rng(profile, "storage_gb", day)
        return {"storage_gb": f"{max(1.0, profile.level * trend * _noisy(rng, 'storage_gb')):.2f}"}
    if profile.use_case == UseCase.MANUFACTURING:
        rng = _day_rng(profile, "machine_hours", day)
        hours = profile.level * trend * SHIFT_HOURS * profile.utilization * WEEKLY["machine_hours"][weekday]
        hours = max(0.1, hours * _noisy(rng, "machine_hours"))
        units = hours * profile.units_per_hour * _noisy(rng, "units_produced")
        return {"machine_hours": f"{hours:.1f}", "units_produced": max(1, round(units))}
    if profile.use_case == UseCase.IOT:
        rng = _day_rng(profile, "sensor_events", day)
        readings = profile.level * trend * profile.readings_per_device * _noisy(rng, "sensor_events")
        return {"sensor_events": max(1, round(readings * _spike(rng, "sensor_events")))}
    raise ValueError(f"no demo usage for the use case {profile.use_case!r}")


def devices_reporting(profile: Profile, monday: date) -> list[int]:
    """The devices (numbers n of dev-<n>) that report in the week starting `monday`."""
    rng = _day_rng(profile, "active_devices", monday)
    fleet = max(1, round(profile.level * profile.trend(monday)))
    return [n for n in range(1, fleet + 1) if rng.random() >= DEVICE_OFFLINE_CHANCE]


# --- events ---------------------------------------------------------------------------------


def _cloudevent(profile: Profile, metric: dict, moment: datetime, event_id: str, value) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": metric["code"],
        "subject": profile.external_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "datacontenttype": "application/json",
        "data": {metric["field"]: value},
    }


def customer_events(profile: Profile, metrics: dict[str, dict], codes: list[str], *, start: date, now: datetime):
    """The customer's events from `start` up to `now` (nothing later than `now`), as CloudEvents dicts.

    One event per metric and day for the daily metrics; for a unique_count metric, one event
    per device and week, each device on its own weekday.
    """
    daily = [code for code in codes if metrics[code]["aggregation"] != "unique_count"]
    per_device = [code for code in codes if metrics[code]["aggregation"] == "unique_count"]
    day = start
    while day <= now.date():
        moment = datetime.combine(day, time(DAILY_HOUR, profile.minute), tzinfo=UTC)
        if daily and moment <= now:
            values = daily_values(profile, day)
            for code in daily:
                event_id = f"demo:{profile.external_id}:{code}:{day.isoformat()}"
                yield _cloudevent(profile, metrics[code], moment, event_id, values[code])
        day += timedelta(days=1)
    for code in per_device:
        monday = start - timedelta(days=start.weekday())
        while monday <= now.date():
            for n in devices_reporting(profile, monday):
                day = monday + timedelta(days=n % 7)
                moment = datetime.combine(day, time(DEVICE_HOUR + n % 12, (n * 7) % 60), tzinfo=UTC)
                if day < start or moment > now:
                    continue
                event_id = f"demo:{profile.external_id}:{code}:{day.isoformat()}:dev-{n}"
                yield _cloudevent(profile, metrics[code], moment, event_id, f"dev-{n}")
            monday += timedelta(days=7)


def demo_usage_events(
    customers: Iterable[Customer], *, metric_fixture: dict, usage_config: dict, start: date, now: datetime
) -> Iterator[dict]:
    """Every demo customer's events, customer by customer."""
    metrics = {metric["code"]: metric for metric in metric_fixture["metrics"]}
    for customer in customers:
        profile = profile_for(customer, usage_config, now.date())
        codes = metric_fixture["use_cases"][customer.use_case]
        yield from customer_events(profile, metrics, codes, start=start, now=now)


# --- sending --------------------------------------------------------------------------------


def seed_usage(
    customers: Iterable[Customer],
    *,
    actor,
    metric_fixture: dict,
    usage_config: dict,
    now: datetime,
    months: int | None = None,
    start: date | None = None,
) -> UsageSeedResult:
    """Send the customers' demo usage through `events_ingest`, in batches of BATCH_SIZE.

    `now` is the start of the current hour (UTC); usage starts on `start`, or on the first day
    of the month `months` (default: the demo's) months back. Raises DemoUsageError if any event
    is rejected or quarantined; batches ingested before it stay (a new run continues them).
    """
    customers = list(customers)
    if start is None:
        start = usage_start(now, usage_config["months"] if months is None else months)
    result = UsageSeedResult(customers=len(customers), start=start)
    events = demo_usage_events(
        customers, metric_fixture=metric_fixture, usage_config=usage_config, start=start, now=now
    )
    batch: list[dict] = []
    for payload in events:
        batch.append(payload)
        if len(batch) == BATCH_SIZE:
            _send(batch, actor, result)
            batch = []
    if batch:
        _send(batch, actor, result)
    return result


def _send(payloads: list[dict], actor, result: UsageSeedResult) -> None:
    ingested = events_ingest([cloudevent(index, payload) for index, payload in enumerate(payloads)], actor=actor)
    if ingested.rejected:
        first = ingested.rejected[0]
        raise DemoUsageError(
            f"{len(ingested.rejected)} demo usage events were rejected; the first, {first['id']}: {first['errors']}"
        )
    if ingested.quarantined:
        index, (reason, detail) = min(ingested.reasons.items())
        raise DemoUsageError(
            f"{ingested.quarantined} demo usage events were quarantined; the first, "
            f"{payloads[index]['id']}: {reason}: {detail}"
        )
    result.sent += len(payloads)
    result.accepted += ingested.accepted
    result.duplicates += ingested.duplicates
