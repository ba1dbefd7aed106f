"""Writes of deal registration: register, approve, reject, attach a proposal, mark lost.

Marking a deal won creates a customer and its subscription, a flow across apps: it is
prm/operations/deal_conversion.py, which calls `deal_record_won` here for the deal's part.

Every write runs in one transaction under the registrations lock (prm/deals/conflicts.py), re-reads
the deal through the actor's scope with a row lock, and tells the people concerned once it commits.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from prm.accounts.models import Role, User
from prm.core.money import money_string, plain_decimal
from prm.core.validators import normalize_domain
from prm.deals import conflicts
from prm.deals.models import DealRegistration, DealStatus
from prm.deals.names import normalize_company_name
from prm.deals.permissions import can_close_lost, can_decide, can_refresh_proposal, can_register
from prm.notifications.services import notify, notify_managers
from prm.notifications.webhooks import portal_url, publish_event
from prm.plans import pricing, selectors
from prm.plans.models import Metric, Plan

NOTES_MAX = 4000


def protection_days() -> int:
    return int(getattr(settings, "PRM_DEAL_PROTECTION_DAYS", 90))


# --- validation -------------------------------------------------------------------------------


def clean_expected_usage(data, plan: Plan | None) -> dict[str, str]:
    """{"metric code": quantity} → {code: plain decimal string}: known metrics the plan charges,
    decimal quantities >= 0 (strings or integers; floats are not exact and are refused)."""
    if data in (None, ""):
        return {}
    try:
        usage = pricing.parse_usage(data, path="expected_usage")
    except pricing.PricingError as error:
        raise ValidationError({"expected_usage": _flatten(error.errors)}) from None
    known = set(Metric.objects.filter(code__in=list(usage)).values_list("code", flat=True))
    problems = [f"{code}: no metric has this code." for code in usage if code not in known]
    if plan is not None and not problems and (version := plan.current_version) is not None:
        charged = {charge.metric for charge in pricing.parse_charges(version.charges) if charge.metric}
        problems += [
            f"{code}: the plan {plan.code} does not charge it (it charges {', '.join(sorted(charged)) or 'no metric'})."
            for code in usage
            if code not in charged
        ]
    if problems:
        raise ValidationError({"expected_usage": problems})
    return {code: plain_decimal(quantity) for code, quantity in usage.items()}


def _flatten(errors: dict[str, list[str]]) -> list[str]:
    """The engine's field paths ("expected_usage.api_calls") folded into messages on the one field."""
    messages = []
    for path, texts in errors.items():
        prefix = path.removeprefix("expected_usage").removeprefix(".")
        messages += [f"{prefix}: {text}" if prefix and not text.startswith(prefix) else text for text in texts]
    return messages


def _clean_fields(*, company, domain, plan, expected_close, expected_usage, notes, now) -> dict:
    errors: dict[str, list[str]] = {}
    company = (company or "").strip()
    if not company:
        errors["company"] = ["The prospect's company name is required."]
    elif len(company) > 200:
        errors["company"] = ["At most 200 characters."]
    try:
        domain = normalize_domain(domain)
    except ValidationError as error:
        errors["domain"] = error.messages
    if plan is None:
        errors["plan"] = ["Choose the plan the customer would subscribe to."]
    elif not plan.is_active or plan.current_version is None:
        errors["plan"] = [f"The plan {plan.code} takes no new subscriptions."]
    if expected_close is None:
        errors["expected_close"] = ["When do you expect to close? A date, YYYY-MM-DD."]
    elif expected_close < now.date():
        errors["expected_close"] = [f"{expected_close:%Y-%m-%d} is in the past; the expected close is today or later."]
    if len(notes or "") > NOTES_MAX:
        errors["notes"] = [f"At most {NOTES_MAX} characters."]
    usage = {}
    try:
        usage = clean_expected_usage(expected_usage, plan if "plan" not in errors else None)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return {"company": company, "domain": domain, "expected_usage": usage, "notes": (notes or "").strip()}


def _refuse_existing_customers(detected: conflicts.Detected, *, partner_id: int, domain: str) -> None:
    for customer in detected.customers_by_domain:
        if customer.reseller_id == partner_id:
            raise ValidationError(
                {"domain": f"{domain} is already your customer {customer.name} ({customer.external_id}). A deal is "
                 "registered for a new customer; grow an existing one through its subscription."}
            )  # fmt: skip
        raise ValidationError(
            {"domain": f"{domain} is already an existing customer of another partner; a deal cannot be registered for "
             "an existing customer."}
        )  # fmt: skip


# --- register ---------------------------------------------------------------------------------


def deal_register(
    *,
    actor,
    company: str,
    domain: str,
    plan: Plan | None,
    expected_close,
    expected_usage=None,
    use_case: str = "",
    notes: str = "",
    now: datetime | None = None,
) -> DealRegistration:
    """A partner admin or rep registers an opportunity for their partner.

    Refused (400 on `domain`) when the domain is already a customer (any partner's) or already
    registered and open at the same partner. Other conflicts (a customer of the same name, another
    partner's open registration) are kept on the registration and stated in the answer. The
    proposal (the plan priced over the expected usage) is attached at once.
    """
    if not can_register(actor):
        raise PermissionDenied("Deals are registered by partner admins and reps.")
    now = now or timezone.now()
    fields = _clean_fields(
        company=company, domain=domain, plan=plan, expected_close=expected_close, expected_usage=expected_usage,
        notes=notes, now=now,
    )  # fmt: skip
    partner = actor.partner
    deal = DealRegistration(
        partner=partner,
        registered_by=actor,
        company_key=normalize_company_name(fields["company"]),
        plan=plan,
        expected_close=expected_close,
        use_case=use_case or "",
        created_at=now,
        **fields,
    )
    deal.full_clean(exclude=["conflicts"])
    with transaction.atomic():
        conflicts.registrations_lock()
        detected = conflicts.detect(domain=deal.domain, company_key=deal.company_key, now=now)
        _refuse_existing_customers(detected, partner_id=partner.pk, domain=deal.domain)
        for other in detected.deals:
            if other.partner_id == partner.pk and other.domain == deal.domain:
                raise ValidationError(
                    {"domain": f"Your partner already registered {deal.domain} on {other.created_at:%Y-%m-%d} (deal "
                     f"#{other.pk}, {other.get_status_display().lower()}); one registration per prospect."}
                )  # fmt: skip
        conflicts.store(
            deal, conflicts.entries(detected, partner_id=partner.pk, domain=deal.domain, company_key=deal.company_key)
        )
        deal.proposal = build_proposal(deal, now=now)
        deal.save()
        conflicts.refresh_counterparts(deal, now=now)
    conflict_note = f" It conflicts with {len(deal.conflicts)} other record(s)." if deal.has_conflicts else ""
    notify_managers(
        kind="deal.submitted",
        title=f"Deal registered: {deal.company} by {partner.name}",
        body=f"{actor.display_name} registered {deal.company} ({deal.domain}) on {deal.plan.name}, expected to close "
        f"{deal.expected_close:%Y-%m-%d}.{conflict_note}",
        url=deal.get_absolute_url(),
    )
    return deal


# --- decisions --------------------------------------------------------------------------------


def _locked(actor, deal: DealRegistration) -> DealRegistration:
    locked = DealRegistration.objects.locked_for(actor, deal.pk)
    return DealRegistration.objects.select_related("partner", "plan", "registered_by").get(pk=locked.pk)


def _status_is(deal: DealRegistration, *statuses: str, doing: str) -> None:
    if deal.status not in statuses:
        allowed = " or ".join(DealStatus(status).label.lower() for status in statuses)
        article = "an" if allowed[0] in "aeiou" else "a"
        raise ValidationError(
            {"status": f"Only {article} {allowed} registration can be {doing}; this one is "
             f"{deal.get_status_display().lower()}."}
        )  # fmt: skip


def deal_approve(*, actor, deal: DealRegistration, reason: str = "", now: datetime | None = None) -> DealRegistration:
    """A channel manager approves: the registration is protected for PRM_DEAL_PROTECTION_DAYS.

    Refused while another partner's approved registration of the same prospect is protected, or
    once the domain has become a customer; the conflicts are recomputed here, not read from storage.
    """
    if not can_decide(actor):
        raise PermissionDenied("Only channel managers decide deal registrations.")
    now = now or timezone.now()
    with transaction.atomic():
        conflicts.registrations_lock()
        deal = _locked(actor, deal)
        _status_is(deal, DealStatus.SUBMITTED, doing="approved")
        detected = conflicts.refresh(deal, now=now)
        _refuse_existing_customers(detected, partner_id=deal.partner_id, domain=deal.domain)
        blocking = conflicts.blocking_protection(detected, partner_id=deal.partner_id, now=now)
        if blocking is not None:
            raise ValidationError(
                {"conflicts": f"{blocking.partner.name}'s registration of {blocking.company} ({blocking.domain}), deal "
                 f"#{blocking.pk}, is approved and protected until {blocking.protected_until:%Y-%m-%d}: reject this "
                 "one, or decide it once that protection has lapsed."}
            )  # fmt: skip
        deal.status = DealStatus.APPROVED
        deal.decision_reason = (reason or "").strip()
        deal.decided_by, deal.decided_at = actor, now
        deal.protected_until = now + timedelta(days=protection_days())
        deal.full_clean()
        deal.save()
        conflicts.refresh_counterparts(deal, now=now)
    _publish_status_changed(deal)
    _tell_partner(
        deal,
        kind="deal.status_changed",
        title=f"Deal approved: {deal.company}",
        body=f"Your registration of {deal.company} ({deal.domain}) is approved and protected until "
        f"{deal.protected_until:%Y-%m-%d}." + (f" {deal.decision_reason}" if deal.decision_reason else ""),
    )
    return deal


def deal_reject(*, actor, deal: DealRegistration, reason: str, now: datetime | None = None) -> DealRegistration:
    if not can_decide(actor):
        raise PermissionDenied("Only channel managers decide deal registrations.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the registration is rejected; the partner reads it."})
    now = now or timezone.now()
    with transaction.atomic():
        conflicts.registrations_lock()
        deal = _locked(actor, deal)
        _status_is(deal, DealStatus.SUBMITTED, doing="rejected")
        deal.status = DealStatus.REJECTED
        deal.decision_reason = reason[:500]
        deal.decided_by, deal.decided_at = actor, now
        deal.save()
        conflicts.refresh_counterparts(deal, now=now)
    _publish_status_changed(deal)
    _tell_partner(
        deal,
        kind="deal.status_changed",
        title=f"Deal rejected: {deal.company}",
        body=f"Your registration of {deal.company} ({deal.domain}) was rejected: {deal.decision_reason}",
    )
    return deal


def deal_mark_lost(*, actor, deal: DealRegistration, reason: str, now: datetime | None = None) -> DealRegistration:
    """The opportunity is gone: the registration stops protecting (and conflicting with) anything."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the deal was lost."})
    now = now or timezone.now()
    with transaction.atomic():
        conflicts.registrations_lock()
        deal = _locked(actor, deal)
        if not can_close_lost(actor, deal):
            raise PermissionDenied(
                "The deal's partner admin, the rep who registered it or a channel manager closes it."
            )
        _status_is(deal, DealStatus.SUBMITTED, DealStatus.APPROVED, doing="marked lost")
        deal.status = DealStatus.LOST
        deal.lost_reason = reason[:500]
        deal.closed_by, deal.closed_at = actor, now
        deal.protected_until = None
        deal.save()
        conflicts.refresh_counterparts(deal, now=now)
    _publish_status_changed(deal)
    _tell_partner(
        deal, kind="deal.status_changed", title=f"Deal lost: {deal.company}", body=f"Marked lost: {deal.lost_reason}"
    )
    return deal


def deal_lock_for_conversion(*, actor, deal: DealRegistration, now: datetime) -> DealRegistration:
    """The deal's part of the won flow, before the customer is made (inside the caller's transaction):
    lock it, check it is approved, and that its domain has not become a customer meanwhile."""
    conflicts.registrations_lock()
    deal = _locked(actor, deal)
    _status_is(deal, DealStatus.APPROVED, doing="marked won")
    detected = conflicts.detect(domain=deal.domain, company_key=deal.company_key, now=now, names=False)
    _refuse_existing_customers(detected, partner_id=deal.partner_id, domain=deal.domain)
    return deal


def deal_record_won(*, actor, deal: DealRegistration, customer, subscription, now: datetime) -> DealRegistration:
    """The deal's part of the won flow, after the customer is made (same transaction)."""
    deal.status = DealStatus.WON
    deal.customer, deal.subscription = customer, subscription
    deal.closed_by, deal.closed_at = actor, now
    deal.protected_until = None
    deal.save()
    conflicts.refresh_counterparts(deal, now=now)
    return deal


def deal_won_notify(deal: DealRegistration) -> None:
    body = (
        f"{deal.company} is now customer {deal.customer.external_id}, subscribed to {deal.plan.name} "
        f"({deal.subscription.external_id})."
    )
    _publish_status_changed(deal)
    _tell_partner(deal, kind="deal.won", title=f"Deal won: {deal.company}", body=body)
    notify_managers(kind="deal.won", title=f"Deal won: {deal.company} ({deal.partner.name})", body=body,
                    url=deal.get_absolute_url())  # fmt: skip


def _publish_status_changed(deal: DealRegistration) -> None:
    """The `deal.status_changed` webhook event, to the deal's partner's endpoints and the vendor's."""
    data = {
        "deal": {
            "id": deal.pk,
            "company": deal.company,
            "domain": deal.domain,
            "status": deal.status,
            "reason": deal.lost_reason if deal.status == DealStatus.LOST else deal.decision_reason,
            "protected_until": deal.protected_until,
            "url": portal_url(deal.get_absolute_url()),
        },
        "partner": {"id": deal.partner_id},
        "customer": {"id": deal.customer_id, "external_id": deal.customer.external_id} if deal.customer_id else None,
    }
    publish_event(type="deal.status_changed", data=data, partner_id=deal.partner_id, customer_id=deal.customer_id)


def _tell_partner(deal: DealRegistration, *, kind: str, title: str, body: str) -> None:
    """The rep who registered the deal and the partner's admins."""
    admins = User.objects.filter(
        membership__partner_id=deal.partner_id, membership__role=Role.PARTNER_ADMIN, is_active=True
    )
    users = {user.pk: user for user in admins}
    if deal.registered_by is not None and deal.registered_by.is_active:
        users.setdefault(deal.registered_by_id, deal.registered_by)
    notify(users=list(users.values()), kind=kind, title=title, body=body, url=deal.get_absolute_url())


# --- proposal ---------------------------------------------------------------------------------


def build_proposal(deal: DealRegistration, *, now: datetime) -> dict:
    """The deal's plan priced over its expected usage by the pricing engine, as a stored snapshot."""
    plan = deal.plan
    version = plan.current_version
    try:
        quote = selectors.quote({"currency": plan.currency, "plan": plan.code, "usage": deal.expected_usage or {}})
    except pricing.PricingError as error:
        raise ValidationError(
            {
                ("expected_usage" if path.startswith("usage") else "plan"): messages
                for path, messages in error.errors.items()
            }
        ) from None
    currency = quote.currency
    return {
        "plan": plan.code,
        "plan_name": plan.name,
        "plan_version": version.version,
        "currency": currency,
        "usage": dict(deal.expected_usage or {}),
        "lines": [
            {
                "metric": line.metric,
                "model": line.model,
                "quantity": plain_decimal(line.quantity),
                "amount": money_string(line.amount, currency),
                "description": line.description,
                "tiers": [
                    {
                        "tier": tier.index + 1,
                        "up_to": None if tier.up_to is None else plain_decimal(tier.up_to),
                        "units": plain_decimal(tier.units),
                        "unit_amount": plain_decimal(tier.unit_amount),
                        "flat_amount": plain_decimal(tier.flat_amount),
                        "amount": plain_decimal(tier.amount),
                    }
                    for tier in line.tiers
                ],
            }
            for line in quote.lines
        ],
        "subtotal": money_string(quote.subtotal, currency),
        "total": money_string(quote.total, currency),
        "computed_at": now.isoformat(),
    }


def deal_proposal_attach(*, actor, deal: DealRegistration, now: datetime | None = None) -> DealRegistration:
    """Price the deal again at the plan's current prices (a new version since, say) and keep it."""
    now = now or timezone.now()
    with transaction.atomic():
        deal = _locked(actor, deal)
        if not can_refresh_proposal(actor, deal):
            raise PermissionDenied("Whoever works the deal (its partner admins, its rep, channel managers) prices it.")
        _status_is(deal, DealStatus.SUBMITTED, DealStatus.APPROVED, doing="priced again")
        deal.proposal = build_proposal(deal, now=now)
        deal.save(update_fields=["proposal", "updated_at"])
    return deal
