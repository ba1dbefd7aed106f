"""Finalizing a closed period's invoices a batch of subscriptions at a time (the period close).

    invoices_finalize(subscription_ids=[...], period=BillingPeriod(2026, 10))

The per-subscription path (`invoice_draft_ensure` then `invoice_finalize`) costs about thirty
queries per subscription. A batch instead loads, in a fixed number of queries whatever its size,
everything rating needs: the subscriptions with their in-force changes, every plan version and
metric they use, the customers holding credits, and the period's usage of all its
(customer, metric) pairs from the hourly rollups — one grouped query per aggregation kind
(`period_usage_grouped`). It rates each subscription with the same `invoice_rating` the
per-subscription path uses, only with that usage, then writes in one transaction: existing
drafts locked and their lines replaced, new invoices and every line bulk-created, a block of
invoice numbers reserved in one update of the sequence (gapless, in subscription order), and the
`invoice.finalized` webhooks recorded with one read of the endpoints.

What the batch does not do exactly goes the per-subscription way, in its turn (so invoice numbers
follow the subscriptions' order whichever path each took):
- a customer with credit grants that could apply to the period (packs, goodwill): drawing credits
  down must see the earlier invoices' drawdowns and lock the grants (credits.py);
- anything rating refuses (a subscription not active in the period raises the same error).
A phase bounded inside an hour (a plan changed at 10:37, a subscription ended at 17:20) is rated in
the batch, its usage read exactly by `period_usage` (rollups and the cut hour's events).

Finalized and void invoices are left alone; a concurrent creation of a draft (a live estimate
refreshed during the close) rolls the batch's transaction back and those subscriptions go the
per-subscription way.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription, SubscriptionChange
from prm.notifications.webhooks import publish_events
from prm.plans import pricing
from prm.plans.models import Metric, PlanVersion
from prm.usage.selectors import period_usage, period_usage_grouped

from .models import CreditDrawdown, CreditGrant, Invoice, InvoiceLine, InvoiceStatus
from .services import (
    INVOICE_SEQUENCE,
    InvoiceRating,
    finalized_event_data,
    invoice_draft_ensure,
    invoice_finalize,
    invoice_rating,
    numbers_reserve,
    rating_phases,
    service_window,
)

# Drafts updated per statement: bulk_update's CASE grows with the rows it sets.
UPDATE_BATCH = 100
_RATED_FIELDS = [
    "plan_version", "currency", "service_start", "service_end", "subtotal", "total", "rated_at",
    "number", "status", "finalized_at", "finalized_by",
]  # fmt: skip


@dataclass
class FinalizeOutcome:
    """How many invoices took each path, and how many were found final already (left alone)."""

    batched: int = 0
    one_by_one: int = 0
    already_final: int = 0

    @property
    def finalized(self) -> int:
        return self.batched + self.one_by_one


@dataclass
class _Loaded:
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    ratings: dict[int, InvoiceRating] = field(default_factory=dict)
    metric_ids: dict[str, int] = field(default_factory=dict)


def invoices_finalize(*, subscription_ids, period: BillingPeriod, batched: bool = True) -> FinalizeOutcome:
    """Finalize the invoices of `period` (closed) of these subscriptions, in subscription order:
    the batch path where it is exact, the per-subscription path for the rest (module docstring).
    `batched=False` sends every one the per-subscription way (the reference the batch path is
    tested against)."""
    ids = sorted(set(subscription_ids))
    outcome = FinalizeOutcome()
    if not ids:
        return outcome
    if not batched:
        for pk in ids:
            _finalize_one(pk, period, outcome)
        return outcome
    if not ClosedBillingPeriod.objects.filter(period=str(period)).exists():
        raise ValidationError(
            {"period": f"The billing period {period} is not closed: invoices are finalized when it is "
             f"(manage.py close_period {period})."}
        )  # fmt: skip
    loaded = _load(ids, period)
    run: list[int] = []
    for pk in ids:
        if pk in loaded.ratings:
            run.append(pk)
            continue
        _write(run, loaded, period, outcome)
        run = []
        _finalize_one(pk, period, outcome)
    _write(run, loaded, period, outcome)
    return outcome


def _finalize_one(pk: int, period: BillingPeriod, outcome: FinalizeOutcome) -> None:
    """Today's per-subscription path, unchanged: one transaction, rated and numbered alone."""
    subscription = Subscription.objects.get(pk=pk)
    with transaction.atomic():
        # Finalizing rates the draft (once) from the closed period's usage.
        invoice_finalize(invoice=invoice_draft_ensure(subscription=subscription, period=period))
    outcome.one_by_one += 1


# --- loading and rating -----------------------------------------------------------------------


def _load(ids: list[int], period: BillingPeriod) -> _Loaded:
    """Everything rating needs for the batch, in a fixed number of queries, and each rating."""
    changes = Prefetch("changes", queryset=SubscriptionChange.objects.in_force(), to_attr="rating_changes")
    subscriptions = list(
        Subscription.objects.filter(pk__in=ids)
        .select_related("customer", "plan_version__plan")
        .prefetch_related(changes)
        .order_by("pk")
    )
    with_credits = set(
        CreditGrant.objects.filter(customer_id__in={s.customer_id for s in subscriptions}, granted_at__lt=period.end)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=period.start))
        .values_list("customer_id", flat=True)
        .distinct()
    )
    candidates = [
        s for s in subscriptions if s.customer_id not in with_credits and service_window(s, period) is not None
    ]
    version_ids = {s.plan_version_id for s in candidates}
    for subscription in candidates:
        for change in subscription.rating_changes:
            version_ids.update(pk for pk in (change.from_plan_version_id, change.to_plan_version_id) if pk)
    versions = PlanVersion.objects.select_related("plan").in_bulk(version_ids)
    codes = {c["metric"] for version in versions.values() for c in version.charges if c.get("metric")}
    metrics = {metric.code: metric for metric in Metric.objects.filter(code__in=codes)}

    phases = {s.pk: rating_phases(s, period, s.rating_changes, versions) for s in candidates}
    usage = _usage(candidates, phases, metrics)
    loaded = _Loaded(metric_ids={code: metric.pk for code, metric in metrics.items()})
    for subscription in candidates:
        try:
            loaded.ratings[subscription.pk] = invoice_rating(
                subscription=subscription, period=period, changes=subscription.rating_changes,
                versions=versions, metrics=metrics, usage_of=partial(usage.read, subscription.customer_id),
            )  # fmt: skip
        except (ValidationError, pricing.PricingError):
            continue  # the per-subscription path raises it as it always has
        loaded.subscriptions[subscription.pk] = subscription
    return loaded


class _BatchUsage:
    """The batch's usage: whole-hour windows read in grouped queries beforehand; any other
    window (a bound inside an hour) read exactly by `period_usage`, as the per-subscription path does."""

    def __init__(self):
        self.loaded: dict[tuple[datetime, datetime], set[int]] = {}  # window → customers read
        self.values: dict[tuple, object] = {}

    def read(self, customer_id: int, *, metric: Metric, start: datetime, end: datetime):
        if customer_id in self.loaded.get((start, end), ()):
            return self.values.get((start, end, customer_id, metric.pk), pricing.ZERO)
        return period_usage(customer_id=customer_id, metric=metric, start=start, end=end)


def _usage(subscriptions: list[Subscription], phases: dict, metrics: dict[str, Metric]) -> _BatchUsage:
    wanted: dict[tuple[datetime, datetime], tuple[set[int], set[str]]] = {}
    for subscription in subscriptions:
        for phase in phases[subscription.pk]:
            codes = {c["metric"] for c in phase.version.charges if c.get("metric")}
            window = (phase.usage_start, phase.end)
            if not codes or not all(_on_the_hour(moment) for moment in window):
                continue
            customers, window_codes = wanted.setdefault(window, (set(), set()))
            customers.add(subscription.customer_id)
            window_codes.update(codes)
    usage = _BatchUsage()
    for (start, end), (customers, codes) in wanted.items():
        found = period_usage_grouped(
            customer_ids=customers, metrics=[metrics[code] for code in sorted(codes) if code in metrics],
            start=start, end=end,
        )  # fmt: skip
        usage.loaded[(start, end)] = customers
        usage.values.update(((start, end, customer, metric), value) for (customer, metric), value in found.items())
    return usage


def _on_the_hour(moment: datetime) -> bool:
    return moment == moment.replace(minute=0, second=0, microsecond=0)


# --- writing ----------------------------------------------------------------------------------


def _write(run: list[int], loaded: _Loaded, period: BillingPeriod, outcome: FinalizeOutcome) -> None:
    """Finalize a run of rated subscriptions in one transaction; should a draft appear meanwhile
    (its creation races ours), the run goes the per-subscription way instead."""
    if not run:
        return
    try:
        with transaction.atomic():
            batched, already_final = _finalize_run(run, loaded, period)
    except IntegrityError:
        for pk in run:
            _finalize_one(pk, period, outcome)
        return
    outcome.batched += batched
    outcome.already_final += already_final


def _finalize_run(run: list[int], loaded: _Loaded, period: BillingPeriod) -> tuple[int, int]:
    rows = Invoice.objects.select_for_update(of=("self",)).filter(subscription_id__in=run, period=str(period))
    existing = {invoice.subscription_id: invoice for invoice in rows}
    todo = []
    for pk in run:
        invoice = existing.get(pk)
        if invoice is None or invoice.is_draft:
            todo.append((loaded.subscriptions[pk], invoice))
    already_final = len(run) - len(todo)
    if not todo:
        return 0, already_final
    drafts = [invoice for _subscription, invoice in todo if invoice is not None]
    if drafts:
        InvoiceLine.objects.filter(invoice__in=drafts).delete()
        CreditDrawdown.objects.filter(invoice__in=drafts).delete()  # none is expected: no credits here
    now = timezone.now()
    numbers = numbers_reserve(INVOICE_SEQUENCE, len(todo), now)
    new, finalized = [], []
    for (subscription, invoice), number in zip(todo, numbers, strict=True):
        if invoice is None:
            invoice = Invoice(
                subscription=subscription, period=str(period), period_start=period.start, period_end=period.end
            )
            new.append(invoice)
        invoice.customer = subscription.customer
        loaded.ratings[subscription.pk].apply(invoice, [], now)
        invoice.number, invoice.status = number, InvoiceStatus.FINALIZED
        invoice.finalized_at, invoice.finalized_by = now, None
        finalized.append((subscription, invoice))
    Invoice.objects.bulk_create(new)
    Invoice.objects.bulk_update(drafts, _RATED_FIELDS, batch_size=UPDATE_BATCH)
    InvoiceLine.objects.bulk_create(
        line
        for subscription, invoice in finalized
        for line in loaded.ratings[subscription.pk].lines(invoice, loaded.metric_ids)
    )
    # As invoice_finalize does, per invoice: partners' and the vendor's systems hear of it on commit.
    publish_events(
        type="invoice.finalized",
        events=[(partial(finalized_event_data, invoice, subscription), invoice.customer_id)
                for subscription, invoice in finalized],
    )  # fmt: skip
    return len(finalized), already_final
