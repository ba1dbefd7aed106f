"""Writes of the customers app."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.money import MINOR_UNITS, plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import (
    Approval,
    ApprovalRule,
    ChangeKind,
    ContractPolicy,
    Customer,
    PlanChoice,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
)
from prm.customers.permissions import (
    can_change_subscription,
    can_create_customers,
    can_decide_changes,
    can_edit_customer,
    can_end_subscription,
    is_customer_admin_of,
)
from prm.notifications.services import notify, notify_managers
from prm.notifications.webhooks import publish_event
from prm.partners.models import Partner
from prm.plans import pricing
from prm.plans.models import PlanVersion

CUSTOMER_FIELDS = ("reseller", "external_id", "name", "domain", "use_case", "currency", "assigned_rep", "is_active")


def customer_create(*, actor, **fields) -> Customer:
    if not can_create_customers(actor):
        raise PermissionDenied("Only channel managers and partner admins may add customers.")
    if actor.is_partner_admin:
        # A partner admin's customers always belong to their own partner.
        fields["reseller"] = actor.partner
    reseller = fields.get("reseller")
    if reseller is not None and not Partner.objects.visible_to(actor).filter(pk=reseller.pk).exists():
        raise ValidationError({"reseller": "Choose a partner you manage."})
    customer = Customer(**{name: value for name, value in fields.items() if name in CUSTOMER_FIELDS})
    customer.full_clean()
    customer.save()
    return customer


def customer_update(*, actor, customer: Customer, **fields) -> Customer:
    with transaction.atomic():
        # Re-read under lock and through the actor's scope: the write is checked where it happens.
        customer = Customer.objects.locked_for(actor, customer.pk)
        if not can_edit_customer(actor, customer):
            raise PermissionDenied("You may not change this customer.")
        if not actor.is_manager:
            fields.pop("reseller", None)  # moving a customer to another partner is the vendor's call
        for name, value in fields.items():
            if name in CUSTOMER_FIELDS:
                setattr(customer, name, value)
        customer.full_clean()
        customer.save()
    return customer


SUBSCRIPTION_FIELDS = ("customer", "external_id", "started_at", "ended_at", "commitment", "status")


def subscription_create(*, actor, plan, **fields) -> Subscription:
    """Subscribe a customer to a plan's current version (managers, or the customer's partner admin)."""
    customer = fields.get("customer")
    if customer is None or not Customer.objects.visible_to(actor).filter(pk=customer.pk).exists():
        raise ValidationError({"customer": "Choose a customer you manage."})
    if not can_edit_customer(actor, customer):
        raise PermissionDenied("Only channel managers and the customer's partner admin subscribe customers.")
    if not plan.is_active:
        raise ValidationError({"plan": f"The plan {plan.code} takes no new subscriptions."})
    subscription = Subscription(
        plan_version=plan.current_version,
        **{name: value for name, value in fields.items() if name in SUBSCRIPTION_FIELDS},
    )
    subscription.full_clean()
    if subscription.commitment is not None:
        _check_commitment(subscription.commitment, customer.currency)
    with transaction.atomic():
        Customer.objects.select_for_update().get(pk=customer.pk)  # one subscription decision at a time
        _check_metrics_not_billed_twice(subscription, subscription.plan_version, field="plan")
        subscription.save()
    return subscription


# --- changes of terms -------------------------------------------------------------------------
#
# The subscription's own plan_version and commitment are its latest terms; each change keeps
# what it replaced, so the terms at any moment are known (Subscription.terms_at) and rating
# splits the period where they changed. Changes of one kind are kept in time order: a change
# cannot be slipped in before a scheduled one of its kind (cancel that one first).
#
# Self-service (anyone but a channel manager: the customer's partner admin, the customer's own
# admins) also follows the program's contract rules (ContractPolicy): the plans open to it, the
# commitment's floor and step, the notice for a lowering, one plan change a period, and which
# changes wait for a manager's approval. A change awaiting approval is recorded pending and
# leaves the latest terms alone; only one of a kind may wait at a time, so approving it (which
# moves it to "now" if its moment passed) keeps the changes of its kind in time order.

# A person's "now" may be a little behind ours by the time the request arrives.
NOW_TOLERANCE = timedelta(minutes=5)


def _plan_metrics(version) -> set[str]:
    return {charge.metric for charge in pricing.parse_charges(version.charges) if charge.metric}


def _check_metrics_not_billed_twice(subscription: Subscription, version, *, field: str) -> None:
    """Usage is the customer's, not a subscription's: two of a customer's subscriptions charging
    the same metric at the same time would bill that usage twice, so it is refused."""
    others = Subscription.objects.filter(customer_id=subscription.customer_id).exclude(pk=subscription.pk)
    others = others.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=subscription.started_at))
    if subscription.ended_at is not None:
        others = others.filter(started_at__lt=subscription.ended_at)
    metrics = _plan_metrics(version)
    for other in others.select_related("plan_version"):
        shared = metrics & _plan_metrics(other.plan_version)
        if shared:
            raise ValidationError(
                {field: f"{other.external_id} already bills {', '.join(sorted(shared))} for this customer over the "
                 "same time; a customer's usage of a metric is billed by one subscription. End that one, or change "
                 "its plan, instead."}
            )  # fmt: skip


def _check_commitment(value: Decimal, currency: str) -> None:
    if value < 0:
        raise ValidationError({"commitment": "The commitment must be 0 or more."})
    if round_money(value, currency) != value:
        raise ValidationError(
            {"commitment": f"{plain_decimal(value)} has more decimals than {currency} has (a minor unit of "
             f"{MINOR_UNITS.get(currency, 2)} places)."}
        )  # fmt: skip


def _check_moment(actor, subscription: Subscription, kind: str, effective_at: datetime, now: datetime) -> None:
    """Where a change may take effect: inside the subscription's life, in an open billing period,
    not before a change of its kind already made; people other than managers only from now on."""
    if effective_at <= subscription.started_at:
        raise ValidationError(
            {"effective_at": f"The subscription started {subscription.started_at:%Y-%m-%d %H:%M} UTC; a change takes "
             "effect after that."}
        )  # fmt: skip
    if subscription.ended_at is not None and effective_at >= subscription.ended_at:
        raise ValidationError(
            {"effective_at": f"The subscription ends {subscription.ended_at:%Y-%m-%d %H:%M} UTC; nothing changes "
             "after that."}
        )  # fmt: skip
    period = BillingPeriod.containing(effective_at)
    if ClosedBillingPeriod.objects.filter(period=str(period)).exists():
        raise ValidationError(
            {"effective_at": f"The billing period {period} is closed and its invoices final; a change can take effect "
             "in an open period only."}
        )  # fmt: skip
    if not actor.is_manager and effective_at < now - NOW_TOLERANCE:
        raise ValidationError({"effective_at": "A change takes effect now or later; only channel managers backdate."})
    later = subscription.changes.in_force().filter(kind=kind, effective_at__gte=effective_at)
    if scheduled := later.order_by("effective_at").first():
        raise ValidationError(
            {"effective_at": f"A {scheduled.get_kind_display().lower()} already takes effect "
             f"{scheduled.effective_at:%Y-%m-%d %H:%M} UTC ({scheduled.summary}); changes of a kind follow each other "
             "in time, so cancel it first or choose a later moment."}
        )  # fmt: skip


def _check_nothing_pending(subscription: Subscription, kind: str) -> None:
    pending = subscription.changes.filter(kind=kind, cancelled_at__isnull=True, approval=Approval.PENDING).first()
    if pending is not None:
        raise ValidationError(
            {kind: f"A {pending.get_kind_display().lower()} awaiting approval is pending ({pending.summary}); until a "
             "channel manager decides on it, or it is withdrawn, no other one can be asked for."}
        )  # fmt: skip


def _permission_message(actor, subscription: Subscription, policy: ContractPolicy) -> str:
    if is_customer_admin_of(actor, subscription.customer_id) and not policy.customer_self_service:
        return (
            "The program's contract rules do not let customers change their plan or commitment themselves; "
            "your partner or a channel manager can."
        )
    return (
        "Only channel managers, the customer's partner admin and the customer's admins change a subscription's "
        "plan or commitment."
    )


def _checked_subscription(actor, subscription: Subscription, *, policy=None, lock=True, ending=False):
    """The subscription re-read through the actor's scope (locked for a write), checked that the
    actor may change it and that it still runs."""
    rows = Subscription.objects.visible_to(actor)
    pk = (rows.select_for_update(of=("self",)) if lock else rows).get(pk=subscription.pk).pk
    subscription = Subscription.objects.select_related("customer", "plan_version__plan").get(pk=pk)
    if ending:
        if not can_end_subscription(actor, subscription):
            raise PermissionDenied("Only channel managers and the customer's partner admin end subscriptions.")
    else:
        policy = policy or ContractPolicy.current()
        if not can_change_subscription(actor, subscription, policy):
            raise PermissionDenied(_permission_message(actor, subscription, policy))
    if subscription.status == SubscriptionStatus.ENDED:
        raise ValidationError({"status": f"{subscription.external_id} has ended; nothing about it changes now."})
    return subscription


def effective_commitment(commitment: Decimal | None, version) -> Decimal:
    """What the customer is held to: its own commitment, else the plan version's minimum, else 0."""
    if commitment is not None:
        return commitment
    return version.minimum_commitment or Decimal(0)


def period_floor(version, commitment: Decimal | None) -> Decimal:
    """The least a full period costs on `version` (with the subscription's own commitment, if any):
    its flat fees, or the minimum it is held to if higher. A plan change that lowers it is a
    downgrade (one that pure usage plans, with neither fees nor minimum, never make)."""
    charges = pricing.parse_charges(version.charges)
    fees = sum((charge.amount for charge in charges if charge.model == "flat"), Decimal(0))
    return max(fees, effective_commitment(commitment, version))


@dataclass(frozen=True)
class ChangeProposal:
    """A change checked against the billing rules and the program's contract rules, not made yet:
    what the price-impact preview prices and what the change services record."""

    subscription: Subscription
    kind: str
    effective_at: datetime
    from_plan_version: PlanVersion  # in force at effective_at
    to_plan_version: PlanVersion  # the same as from_plan_version for a commitment change
    from_commitment: Decimal | None  # the subscription's own commitment at effective_at (None: the plan's)
    to_commitment: Decimal | None
    reduction: bool  # a lowered commitment or a plan downgrade
    approval_required: bool

    @property
    def summary(self) -> str:
        if self.kind == ChangeKind.PLAN:
            return f"plan {self.from_plan_version} → {self.to_plan_version}"
        return f"commitment {_shown(self.from_commitment)} → {_shown(self.to_commitment)}"


def _needs_approval(actor, policy: ContractPolicy, reduction: bool) -> bool:
    """Managers' changes never wait; self-service ones as the contract rules say."""
    if actor.is_manager:
        return False
    return policy.approval == ApprovalRule.ALL or (policy.approval == ApprovalRule.REDUCTIONS and reduction)


def _check_plan_policy(policy: ContractPolicy, subscription, plan, version, commitment, effective_at) -> None:
    """The contract rules for a self-service plan change."""
    if policy.plan_choice == PlanChoice.CHOSEN and not policy.self_service_plans.filter(pk=plan.pk).exists():
        open_plans = ", ".join(
            policy.self_service_plans.filter(is_active=True, currency=plan.currency).values_list("code", flat=True)
        )
        raise ValidationError(
            {"plan": f"{plan.code} is not one of the plans the program's contract rules open to self-service changes "
             f"({open_plans or 'none in ' + plan.currency}); a channel manager can make this change."}
        )  # fmt: skip
    minimum = version.minimum_commitment
    if commitment is not None and minimum and commitment < minimum:
        raise ValidationError(
            {"plan": f"{plan.code} has a minimum commitment of {plain_decimal(minimum)}; the subscription's own "
             f"commitment of {plain_decimal(commitment)} would fall below it. Raise the commitment first."}
        )  # fmt: skip
    if policy.one_plan_change_per_period:
        period = BillingPeriod.containing(effective_at)
        same_period = subscription.changes.filter(
            kind=ChangeKind.PLAN, cancelled_at__isnull=True, effective_at__gte=period.start,
            effective_at__lt=period.end,
        ).exclude(approval=Approval.REJECTED)  # fmt: skip
        if other := same_period.first():
            raise ValidationError(
                {"effective_at": f"{subscription.external_id} already has a plan change in {period} ({other.summary}, "
                 f"{other.get_approval_display().lower() if other.is_pending else 'from ' + _at(other.effective_at)}); "
                 f"the contract rules allow one a billing period, so choose a moment from {_at(period.end)} on."}
            )  # fmt: skip


def _check_commitment_policy(policy: ContractPolicy, commitment: Decimal | None, version) -> None:
    """The contract rules for a self-service commitment: on the step, not below the program's floor,
    never below the plan's minimum."""
    step = policy.commitment_step
    if commitment is not None and step and commitment % step != 0:
        below = (commitment // step) * step
        raise ValidationError(
            {"commitment": f"{plain_decimal(commitment)} is not a multiple of {plain_decimal(step)}: the contract "
             f"rules take commitments in steps of {plain_decimal(step)} (for example {plain_decimal(below)} or "
             f"{plain_decimal(below + step)})."}
        )  # fmt: skip
    held_to = effective_commitment(commitment, version)
    if policy.commitment_minimum is not None and held_to < policy.commitment_minimum:
        raise ValidationError(
            {"commitment": f"{plain_decimal(held_to)} is below the lowest commitment the contract rules allow, "
             f"{plain_decimal(policy.commitment_minimum)} per period."}
        )  # fmt: skip
    if commitment is not None and version.minimum_commitment and commitment < version.minimum_commitment:
        raise ValidationError(
            {"commitment": f"{plain_decimal(commitment)} is below the minimum commitment of {version.plan.code}, "
             f"{plain_decimal(version.minimum_commitment)}; a commitment never goes below the plan's minimum."}
        )  # fmt: skip


def _propose_plan(actor, subscription, plan, effective_at, now, policy) -> ChangeProposal:
    effective_at = effective_at or now
    if not plan.is_active:
        raise ValidationError({"plan": f"The plan {plan.code} takes no new subscriptions."})
    version = plan.current_version
    if version is None:
        raise ValidationError({"plan": f"The plan {plan.code} has no prices yet."})
    if plan.currency != subscription.customer.currency:
        raise ValidationError(
            {"plan": f"The plan is priced in {plan.currency}; {subscription.customer} is billed in "
             f"{subscription.customer.currency}."}
        )  # fmt: skip
    _check_moment(actor, subscription, ChangeKind.PLAN, effective_at, now)
    terms = subscription.terms_at(effective_at)
    if terms.plan_version_id == version.pk:
        raise ValidationError({"plan": f"{subscription.external_id} is already on {version} at that moment."})
    _check_nothing_pending(subscription, ChangeKind.PLAN)
    _check_metrics_not_billed_twice(subscription, version, field="plan")
    if not actor.is_manager:
        _check_plan_policy(policy, subscription, plan, version, terms.commitment, effective_at)
    current = PlanVersion.objects.select_related("plan").get(pk=terms.plan_version_id)
    reduction = period_floor(version, terms.commitment) < period_floor(current, terms.commitment)
    return ChangeProposal(
        subscription=subscription, kind=ChangeKind.PLAN, effective_at=effective_at, from_plan_version=current,
        to_plan_version=version, from_commitment=terms.commitment, to_commitment=terms.commitment,
        reduction=reduction, approval_required=_needs_approval(actor, policy, reduction),
    )  # fmt: skip


def _earliest_lowering(now: datetime, notice: timedelta) -> datetime:
    """The first period end at least `notice` after now: when a lowering asked for now may take effect."""
    end = BillingPeriod.containing(now).end
    while end - now < notice:
        end = BillingPeriod.containing(end).end
    return end


def _propose_commitment(actor, subscription, commitment, effective_at, now, policy) -> ChangeProposal:
    if commitment is not None:
        _check_commitment(commitment, subscription.customer.currency)
    probe = effective_at or now
    terms = subscription.terms_at(probe)
    version = PlanVersion.objects.select_related("plan").get(pk=terms.plan_version_id)
    if commitment == terms.commitment:
        raise ValidationError({"commitment": f"The commitment is already {_shown(commitment)} at that moment."})
    lowering = effective_commitment(commitment, version) < effective_commitment(terms.commitment, version)
    if lowering:
        notice = timedelta(0) if actor.is_manager else timedelta(days=policy.lowering_notice_days)
        earliest = _earliest_lowering(now, notice)
        if effective_at is None:
            effective_at = earliest
        elif BillingPeriod.containing(effective_at).start != effective_at or (
            not actor.is_manager and effective_at < earliest
        ):
            shown = earliest if not actor.is_manager else BillingPeriod.containing(effective_at).end
            why = f" (the contract rules ask for {policy.lowering_notice_days} days' notice)" if notice else ""
            raise ValidationError(
                {"effective_at": f"A commitment is lowered at the end of a billing period: from {_at(shown)}{why} at "
                 "the earliest, or the start of a later period."}
            )  # fmt: skip
    else:
        effective_at = effective_at or now
    _check_moment(actor, subscription, ChangeKind.COMMITMENT, effective_at, now)
    _check_nothing_pending(subscription, ChangeKind.COMMITMENT)
    terms = subscription.terms_at(effective_at)
    if terms.plan_version_id != version.pk:
        version = PlanVersion.objects.select_related("plan").get(pk=terms.plan_version_id)
    if not actor.is_manager:
        _check_commitment_policy(policy, commitment, version)
    return ChangeProposal(
        subscription=subscription, kind=ChangeKind.COMMITMENT, effective_at=effective_at, from_plan_version=version,
        to_plan_version=version, from_commitment=terms.commitment, to_commitment=commitment, reduction=lowering,
        approval_required=_needs_approval(actor, policy, lowering),
    )  # fmt: skip


def subscription_change_propose(
    *, actor, subscription: Subscription, kind: str, plan=None, commitment: Decimal | None = None, effective_at=None
) -> ChangeProposal:
    """Check a plan or commitment change without making it (the preview before confirming): the
    same checks, answers and errors as `subscription_change_plan` / `_commitment`, nothing written."""
    now = timezone.now()
    policy = ContractPolicy.current()
    subscription = _checked_subscription(actor, subscription, policy=policy, lock=False)
    if kind == ChangeKind.PLAN:
        if plan is None:
            raise ValidationError({"plan": "Choose the plan to move to."})
        return _propose_plan(actor, subscription, plan, effective_at, now, policy)
    if kind == ChangeKind.COMMITMENT:
        return _propose_commitment(actor, subscription, commitment, effective_at, now, policy)
    raise ValidationError({"kind": f"{kind!r} is not a change; use plan or commitment."})


def _apply(subscription: Subscription, change: SubscriptionChange) -> None:
    """Make the change the subscription's latest terms (changes of a kind are in time order), and
    tell the partner's and the vendor's systems (webhook `subscription.changed`)."""
    if change.kind == ChangeKind.PLAN:
        subscription.plan_version_id = change.to_plan_version_id
        subscription.save(update_fields=["plan_version"])
    else:
        subscription.commitment = change.to_commitment
        subscription.save(update_fields=["commitment"])
    publish_event(
        type="subscription.changed",
        data=lambda: _change_event(subscription, change),
        partner_id=subscription.customer.reseller_id,
        customer_id=subscription.customer_id,
    )


def _change_event(subscription: Subscription, change: SubscriptionChange) -> dict:
    """The webhook payload: what changed, from when, in plain values (amounts as strings)."""

    def plan(version_id):
        return None if version_id is None else PlanVersion.objects.get(pk=version_id).plan.code

    def amount(value):
        return None if value is None else plain_decimal(value)

    plan_change = change.kind == ChangeKind.PLAN
    return {
        "change": change.pk,
        "subscription": subscription.external_id,
        "customer": subscription.customer.external_id,
        "kind": change.kind,
        "effective_at": change.effective_at.isoformat(),
        "from": plan(change.from_plan_version_id) if plan_change else amount(change.from_commitment),
        "to": plan(change.to_plan_version_id) if plan_change else amount(change.to_commitment),
        "approval": change.approval,
        "summary": change.summary,
        "currency": subscription.customer.currency,
    }


def _record(actor, proposal: ChangeProposal, reason: str) -> SubscriptionChange:
    subscription = proposal.subscription
    change = SubscriptionChange.objects.create(
        subscription=subscription,
        kind=proposal.kind,
        effective_at=proposal.effective_at,
        from_plan_version=proposal.from_plan_version if proposal.kind == ChangeKind.PLAN else None,
        to_plan_version=proposal.to_plan_version if proposal.kind == ChangeKind.PLAN else None,
        from_commitment=proposal.from_commitment if proposal.kind == ChangeKind.COMMITMENT else None,
        to_commitment=proposal.to_commitment if proposal.kind == ChangeKind.COMMITMENT else None,
        reason=reason.strip(),
        requested_by=actor,
        approval=Approval.PENDING if proposal.approval_required else Approval.NOT_REQUIRED,
    )
    if proposal.approval_required:
        notify_managers(
            kind="contract_change.pending",
            title=f"Approval needed: {subscription.external_id}, {change.summary}",
            body=f"{actor.display_name} asks for a {change.get_kind_display().lower()} of "
            f"{subscription.customer.name}'s {subscription.external_id}: {change.summary}, "
            f"from {_at(change.effective_at)}." + (f" Reason: {change.reason}" if change.reason else ""),
            url=subscription.get_absolute_url(),
        )
    else:
        _apply(subscription, change)
    return change


def subscription_change_plan(
    *, actor, subscription: Subscription, plan, effective_at=None, reason=""
) -> SubscriptionChange:
    """Move the subscription to `plan`'s current version from `effective_at` (default: now).

    The period it happens in is rated in two parts: flat fees prorated by time on each side,
    usage split at the moment itself, each side priced by its own version. A self-service change
    the contract rules send for approval is recorded pending and changes nothing until approved.
    """
    now = timezone.now()
    with transaction.atomic():
        policy = ContractPolicy.current()
        subscription = _checked_subscription(actor, subscription, policy=policy)
        proposal = _propose_plan(actor, subscription, plan, effective_at, now, policy)
        return _record(actor, proposal, reason)


def subscription_change_commitment(
    *, actor, subscription: Subscription, commitment: Decimal | None, effective_at=None, reason=""
) -> SubscriptionChange:
    """Raise the commitment (from `effective_at`, default now) or lower it (at the end of a billing
    period: the first one the contract rules' notice allows unless a later period start is asked
    for). None removes the subscription's own commitment, leaving the plan's minimum."""
    now = timezone.now()
    with transaction.atomic():
        policy = ContractPolicy.current()
        subscription = _checked_subscription(actor, subscription, policy=policy)
        proposal = _propose_commitment(actor, subscription, commitment, effective_at, now, policy)
        return _record(actor, proposal, reason)


def _shown(commitment) -> str:
    return "the plan's minimum" if commitment is None else plain_decimal(commitment)


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _is_lowering(subscription: Subscription, change: SubscriptionChange, moment: datetime) -> bool:
    terms = subscription.terms_at(moment)
    version = PlanVersion.objects.get(pk=terms.plan_version_id)
    return effective_commitment(change.to_commitment, version) < effective_commitment(terms.commitment, version)


def _moment_on_approval(subscription: Subscription, change: SubscriptionChange, now: datetime) -> datetime:
    """When an approved change takes effect, by the billing rules from the approval moment: a plan
    change or a raise at its requested moment, or now if that passed; a lowering at its requested
    period end, or the end of the current period if that passed."""
    if change.effective_at > now:
        return change.effective_at
    if change.kind == ChangeKind.COMMITMENT and _is_lowering(subscription, change, now):
        return BillingPeriod.containing(now).end
    return now


def _check_decider(actor, what: str) -> None:
    if not can_decide_changes(actor):
        raise PermissionDenied(
            f"Only channel managers {what} contract changes; a customer or partner does not decide on its own."
        )


def _pending_change(actor, change: SubscriptionChange) -> SubscriptionChange:
    change = SubscriptionChange.objects.locked_for(actor, change.pk)
    if change.is_cancelled:
        raise ValidationError({"change": "This change was withdrawn; there is nothing to decide."})
    if change.approval != Approval.PENDING:
        state = change.get_approval_display().lower()
        raise ValidationError({"change": f"This change is not awaiting approval (it is {state})."})
    return change


def _tell_requester(change: SubscriptionChange, subscription: Subscription) -> None:
    if change.requested_by is None:
        return
    approved = change.approval == Approval.APPROVED
    outcome = f"takes effect {_at(change.effective_at)}" if approved else "was rejected; nothing changes"
    notify(
        users=[change.requested_by],
        kind=f"contract_change.{change.approval}",
        title=f"Contract change {'approved' if approved else 'rejected'}: {subscription.external_id}",
        body=f"{change.summary[0].upper()}{change.summary[1:]} {outcome}."
        + (f" Note from {change.decided_by.display_name}: {change.decision_note}" if change.decision_note else ""),
        url=subscription.get_absolute_url(),
    )


def subscription_change_approve(*, actor, change: SubscriptionChange, note: str = "") -> SubscriptionChange:
    """Approve a pending change: it takes effect by the billing rules from now (see
    `_moment_on_approval`), becomes the latest terms, and its requester is told."""
    _check_decider(actor, "approve")
    now = timezone.now()
    with transaction.atomic():
        change = _pending_change(actor, change)
        subscription = _checked_subscription(actor, change.subscription)
        effective_at = _moment_on_approval(subscription, change, now)
        _check_moment(actor, subscription, change.kind, effective_at, now)
        terms = subscription.terms_at(effective_at)
        if change.kind == ChangeKind.PLAN:
            if terms.plan_version_id == change.to_plan_version_id:
                raise ValidationError({"change": f"{subscription.external_id} is already on {change.to_plan_version}."})
            _check_metrics_not_billed_twice(subscription, change.to_plan_version, field="change")
            change.from_plan_version_id = terms.plan_version_id
        else:
            if terms.commitment == change.to_commitment:
                raise ValidationError({"change": f"The commitment is already {_shown(change.to_commitment)}."})
            change.from_commitment = terms.commitment
        change.effective_at = effective_at
        change.approval = Approval.APPROVED
        change.decided_by, change.decided_at, change.decision_note = actor, now, note.strip()
        change.save()
        _apply(subscription, change)
        _tell_requester(change, subscription)
    return change


def subscription_change_reject(*, actor, change: SubscriptionChange, note: str) -> SubscriptionChange:
    """Reject a pending change with the reason, told to its requester; it stays in the history and
    never counts."""
    _check_decider(actor, "reject")
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say why the change is rejected: the person who asked for it is told."})
    with transaction.atomic():
        change = _pending_change(actor, change)
        change.approval = Approval.REJECTED
        change.decided_by, change.decided_at, change.decision_note = actor, timezone.now(), note[:500]
        change.save(update_fields=["approval", "decided_by", "decided_at", "decision_note"])
        _tell_requester(change, change.subscription)
    return change


def subscription_change_cancel(*, actor, change: SubscriptionChange) -> SubscriptionChange:
    """Withdraw a change that has not taken effect yet (or still awaits approval); it stays in the
    history, marked cancelled."""
    with transaction.atomic():
        change = SubscriptionChange.objects.select_related("requested_by").get(
            pk=SubscriptionChange.objects.locked_for(actor, change.pk).pk
        )
        subscription = _checked_subscription(actor, change.subscription)
        if change.is_cancelled:
            raise ValidationError({"change": "This change is already cancelled."})
        if change.approval == Approval.REJECTED:
            raise ValidationError({"change": "This change was rejected; it never took effect."})
        if not actor.is_manager and change.requested_by is not None and change.requested_by.is_manager:
            raise PermissionDenied("A change a channel manager made is withdrawn by a channel manager.")
        if change.approval != Approval.PENDING:
            if change.effective_at <= timezone.now():
                raise ValidationError(
                    {"change": f"This change took effect {_at(change.effective_at)}; make a new change instead."}
                )
            if subscription.changes.in_force().filter(kind=change.kind, effective_at__gt=change.effective_at).exists():
                raise ValidationError({"change": "A later change of the same kind follows it; cancel that one first."})
        change.cancelled_at = timezone.now()
        change.cancelled_by = actor
        change.save(update_fields=["cancelled_at", "cancelled_by"])
        if change.approval != Approval.PENDING:  # a pending change never moved the terms
            if change.kind == ChangeKind.PLAN:
                subscription.plan_version_id = change.from_plan_version_id
                subscription.save(update_fields=["plan_version"])
            else:
                subscription.commitment = change.from_commitment
                subscription.save(update_fields=["commitment"])
    return change


def subscription_end(*, actor, subscription: Subscription, ended_at=None, reason="") -> Subscription:
    """End the subscription at `ended_at` (default now): billed up to then, flat fees prorated."""
    now = timezone.now()
    ended_at = ended_at or now
    with transaction.atomic():
        subscription = _checked_subscription(actor, subscription, ending=True)
        if ended_at <= subscription.started_at:
            raise ValidationError({"ended_at": "A subscription ends after it starts."})
        period = BillingPeriod.containing(ended_at)
        if ClosedBillingPeriod.objects.filter(period=str(period)).exists():
            raise ValidationError({"ended_at": f"The billing period {period} is closed; end it in an open period."})
        if not actor.is_manager and ended_at < now - NOW_TOLERANCE:
            raise ValidationError({"ended_at": "A subscription ends now or later; only channel managers backdate."})
        subscription.ended_at = ended_at
        if ended_at <= now:
            subscription.status = SubscriptionStatus.ENDED
        subscription.save(update_fields=["ended_at", "status"])
    return subscription


# --- the program's contract rules ---------------------------------------------------------------

POLICY_FIELDS = (
    "customer_self_service", "plan_choice", "commitment_minimum", "commitment_step", "lowering_notice_days",
    "one_plan_change_per_period", "approval",
)  # fmt: skip


def contract_policy_update(*, actor, self_service_plans=None, **fields) -> ContractPolicy:
    """Channel managers set the program's rules for self-service contract changes."""
    if not can_decide_changes(actor):
        raise PermissionDenied("Only channel managers set the program's contract rules.")
    with transaction.atomic():
        ContractPolicy.current()
        policy = ContractPolicy.objects.select_for_update().get(pk=1)
        for name, value in fields.items():
            if name in POLICY_FIELDS:
                setattr(policy, name, value)
        policy.updated_by = actor
        policy.full_clean()
        chosen = list(self_service_plans) if self_service_plans is not None else list(policy.self_service_plans.all())
        if policy.plan_choice == PlanChoice.CHOSEN and not chosen:
            raise ValidationError({"self_service_plans": "Choose at least one plan, or let customers pick any plan."})
        policy.save()
        if self_service_plans is not None:
            policy.self_service_plans.set(chosen)
    return policy
