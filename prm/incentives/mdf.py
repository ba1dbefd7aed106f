"""Market development funds (MDF): money the vendor gives partners for marketing activities.

    partner admin ──mdf_request_create──▶ requested
    manager ──mdf_request_approve──▶ approved (draws on the tier's budget) │ ──mdf_request_reject──▶ rejected
    partner admin ──mdf_request_claim (proof: a file or a link, and what it cost)──▶ claimed
    manager ──mdf_request_mark_paid──▶ paid

Rules:

- only partners whose tier is `mdf_eligible` request funds (403 otherwise, saying which tiers are);
- budgets are per tier and calendar quarter (`MdfBudget`, period "2026-Q4"); a request draws on the
  budget of its partner's tier for the quarter of its activity date. What a budget has committed is
  the amount of each approved request plus the claimed amount of each claimed or paid one (a claim
  may come in under the approved amount; the difference goes back to the budget);
- approval is refused when the request would take the budget past its amount, with the figures;
  approvals of one budget run one after another (its row is locked), so two cannot both fit;
- a claim carries proof: a PDF, PNG or JPEG of at most MDF_PROOF_MAX_BYTES (checked by its content,
  not its name, and stored under a name of our own), or a link, with an optional note.

Money is Decimal in the request's currency, which is its budget's; sums are made in Python.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from prm.accounts.models import Role, User
from prm.core.money import MINOR_UNITS, money_string, parse_decimal, plain_decimal, round_money
from prm.incentives.models import MdfBudget, MdfRequest, MdfStatus
from prm.notifications.services import notify, notify_managers
from prm.partners.models import Partner, Tier

MDF_PROOF_MAX_BYTES = 5 * 1024 * 1024
# What a proof file may be, recognised by its first bytes.
PROOF_SIGNATURES = {b"%PDF-": "pdf", b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg"}
DESCRIPTION_MAX = 4000
COMMITTING = (MdfStatus.APPROVED, MdfStatus.CLAIMED, MdfStatus.PAID)


def quarter_of(day: date | datetime) -> str:
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetFigures:
    amount: Decimal
    committed: Decimal
    currency: str

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.committed

    def text(self, tier, period) -> str:
        c = self.currency
        return (
            f"the {tier} tier's MDF budget for {period} is {money_string(self.amount, c)} {c}, of which "
            f"{money_string(self.committed, c)} {c} is committed (approved or claimed): "
            f"{money_string(self.remaining, c)} {c} remaining"
        )


def committed_by_budget(budget_ids) -> dict[int, Decimal]:
    """Each budget's committed sum, from one query (Decimal sums in Python: SQLite's SUM is a float)."""
    committed = dict.fromkeys(budget_ids, Decimal(0))
    rows = MdfRequest.objects.filter(budget_id__in=list(budget_ids), status__in=COMMITTING).values_list(
        "budget_id", "status", "amount", "claimed_amount"
    )
    for budget_id, status, amount, claimed in rows:
        committed[budget_id] += amount if status == MdfStatus.APPROVED else claimed
    return committed


def budget_figures(budget: MdfBudget) -> BudgetFigures:
    return BudgetFigures(budget.amount, committed_by_budget([budget.pk])[budget.pk], budget.currency)


# --- checks -----------------------------------------------------------------------------------


def _money(value, currency: str, field: str) -> Decimal:
    try:
        amount = parse_decimal(value)
    except ValueError as error:
        raise ValidationError({field: f"Give an amount such as 2500.00 ({error})."}) from None
    if amount <= 0:
        raise ValidationError({field: "The amount is above zero."})
    if round_money(amount, currency) != amount:
        raise ValidationError(
            {field: f"{plain_decimal(amount)} has more decimals than {currency} has ({MINOR_UNITS[currency]})."}
        )
    if amount >= Decimal(10) ** 14:
        raise ValidationError({field: "That amount is out of range."})
    return amount


def _currency(value: str | None) -> str:
    currency = (value or settings.PRM_PROGRAM_CURRENCY).upper()
    if currency not in MINOR_UNITS:
        raise ValidationError({"currency": f"Unknown currency {currency!r}; use an ISO 4217 code such as USD."})
    return currency


def _eligible_tiers() -> str:
    names = [tier.name for tier in Tier.objects.filter(mdf_eligible=True).order_by("rank")]
    return ", ".join(names) or "no"


def _require_manager(actor, doing: str) -> None:
    if not actor.is_manager:
        raise PermissionDenied(f"Only channel managers {doing}.")


def _locked(actor, request: MdfRequest) -> MdfRequest:
    locked = MdfRequest.objects.locked_for(actor, request.pk)
    return MdfRequest.objects.select_related("partner__tier", "requested_by", "budget__tier").get(pk=locked.pk)


def _status_is(request: MdfRequest, status: str, doing: str) -> None:
    if request.status != status:
        raise ValidationError(
            {"status": f"Only {MdfStatus(status).label.lower()} requests can be {doing}; this one is "
             f"{request.get_status_display().lower()}."}
        )  # fmt: skip


# --- budgets ----------------------------------------------------------------------------------


def mdf_budget_save(*, actor, budget: MdfBudget | None = None, **fields) -> MdfBudget:
    """Create or change a tier's budget for a quarter (channel managers). A budget is not set below
    what it has already committed."""
    _require_manager(actor, "set MDF budgets")
    with transaction.atomic():
        budget = MdfBudget.objects.select_for_update().get(pk=budget.pk) if budget and budget.pk else MdfBudget()
        for name in ("tier", "period", "amount", "currency", "note"):
            if name in fields:
                setattr(budget, name, fields[name])
        if budget.pk and "period" in fields and budget.requests.exists():
            original = MdfBudget.objects.get(pk=budget.pk)
            if (original.period, original.tier_id) != (budget.period, budget.tier_id):
                raise ValidationError({"period": "Requests already draw on this budget; its tier and quarter stay."})
        budget.full_clean()
        currency = _currency(budget.currency)
        if round_money(Decimal(budget.amount), currency) != budget.amount:
            raise ValidationError({"amount": f"The amount has more decimals than {currency} has."})
        if budget.pk:
            committed = committed_by_budget([budget.pk])[budget.pk]
            if budget.amount < committed:
                raise ValidationError(
                    {"amount": f"{money_string(committed, currency)} {currency} is already committed from this budget; "
                     "it cannot be set below that."}
                )  # fmt: skip
            if budget.requests.exclude(currency=currency).exists():
                raise ValidationError({"currency": "Requests in another currency already draw on this budget."})
        budget.save()
    return budget


# --- requests ---------------------------------------------------------------------------------


def mdf_request_create(
    *,
    actor,
    activity: str,
    activity_date: date,
    amount,
    activity_type: str = "other",
    description: str = "",
    currency: str | None = None,
    now: datetime | None = None,
) -> MdfRequest:
    """A partner admin asks for funds for an activity; the channel managers are told."""
    if not actor.is_partner_admin:
        raise PermissionDenied("Partner admins request market development funds.")
    now = now or timezone.now()
    partner = Partner.objects.select_related("tier").get(pk=actor.partner.pk)
    if not partner.tier.mdf_eligible:
        raise PermissionDenied(
            f"Market development funds are a benefit of the {_eligible_tiers()} tier(s); {partner.name} is in the "
            f"{partner.tier.name} tier."
        )
    currency = _currency(currency)
    errors = {}
    activity = (activity or "").strip()
    if not activity:
        errors["activity"] = ["Say what the funds pay for."]
    if len(description or "") > DESCRIPTION_MAX:
        errors["description"] = [f"At most {DESCRIPTION_MAX} characters."]
    if activity_date is None:
        errors["activity_date"] = ["When does the activity take place? YYYY-MM-DD."]
    elif quarter_of(activity_date) < quarter_of(now):
        errors["activity_date"] = [
            f"{activity_date:%Y-%m-%d} is in a past quarter; funds are requested for this quarter ({quarter_of(now)}) "
            "or a later one."
        ]
    if errors:
        raise ValidationError(errors)
    amount = _money(amount, currency, "amount")
    period = quarter_of(activity_date)
    budget = MdfBudget.objects.filter(tier=partner.tier, period=period).first()
    if budget is not None and budget.currency != currency:
        raise ValidationError({"currency": f"The {partner.tier.name} tier's MDF budget for {period} is in "
                                           f"{budget.currency}; request in {budget.currency}."})  # fmt: skip
    request = MdfRequest(
        partner=partner, requested_by=actor, activity=activity, activity_type=activity_type,
        description=(description or "").strip(), activity_date=activity_date, period=period, amount=amount,
        currency=currency, created_at=now,
    )  # fmt: skip
    request.full_clean(exclude=["proof_file"])
    request.save()
    notify_managers(
        kind="mdf.requested",
        title=f"MDF requested: {partner.name}, {money_string(amount, currency)} {currency}",
        body=f"{actor.display_name} requests {money_string(amount, currency)} {currency} for “{activity}” "
        f"({activity_date:%Y-%m-%d}, {period}).",
        url=request.get_absolute_url(),
    )
    return request


def mdf_request_approve(*, actor, request: MdfRequest, reason: str = "", now: datetime | None = None) -> MdfRequest:
    """Approve, drawing on the budget of the partner's tier for the activity's quarter; refused when
    the budget would be exceeded (the message gives the budget, what is committed and what remains)."""
    _require_manager(actor, "approve MDF requests")
    now = now or timezone.now()
    with transaction.atomic():
        request = _locked(actor, request)
        _status_is(request, MdfStatus.REQUESTED, "approved")
        tier = request.partner.tier
        if not tier.mdf_eligible:
            raise ValidationError(
                {"partner": f"{request.partner.name} is now in the {tier.name} tier, which has no MDF; reject it."}
            )
        budget = MdfBudget.objects.select_for_update().filter(tier=tier, period=request.period).first()
        if budget is None:
            raise ValidationError(
                {"budget": f"No MDF budget is set for the {tier.name} tier in {request.period}; set one first."}
            )
        if budget.currency != request.currency:
            raise ValidationError(
                {"currency": f"The {tier.name} tier's budget for {request.period} is in {budget.currency}; the request "
                 f"is in {request.currency}."}
            )  # fmt: skip
        figures = budget_figures(budget)
        if request.amount > figures.remaining:
            c = request.currency
            raise ValidationError(
                {"amount": f"Approving {money_string(request.amount, c)} {c} would exceed the budget: "
                 f"{figures.text(tier.name, request.period)}."}
            )  # fmt: skip
        request.status = MdfStatus.APPROVED
        request.budget = budget
        request.reason = (reason or "").strip()[:500]
        request.decided_by, request.decided_at = actor, now
        request.save()
    c = request.currency
    _tell_partner(
        request,
        kind="mdf.status_changed",
        title=f"MDF approved: {request.activity}",
        body=f"{money_string(request.amount, c)} {c} approved for “{request.activity}”. Claim it with proof once the "
        "activity has run." + (f" {request.reason}" if request.reason else ""),
    )
    return request


def mdf_request_reject(*, actor, request: MdfRequest, reason: str, now: datetime | None = None) -> MdfRequest:
    _require_manager(actor, "reject MDF requests")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the request is rejected; the partner reads it."})
    now = now or timezone.now()
    with transaction.atomic():
        request = _locked(actor, request)
        _status_is(request, MdfStatus.REQUESTED, "rejected")
        request.status = MdfStatus.REJECTED
        request.reason = reason[:500]
        request.decided_by, request.decided_at = actor, now
        request.save()
    _tell_partner(
        request,
        kind="mdf.status_changed",
        title=f"MDF rejected: {request.activity}",
        body=f"Rejected: {request.reason}",
    )
    return request


def _proof_file(upload) -> tuple[bytes, str]:
    """The file's bytes and extension, when it is a PDF, PNG or JPEG within the size limit."""
    size = getattr(upload, "size", None)
    limit_mb = MDF_PROOF_MAX_BYTES // (1024 * 1024)
    if size is not None and size > MDF_PROOF_MAX_BYTES:
        raise ValidationError({"proof_file": f"The file is larger than {limit_mb} MB; send a smaller one or a link."})
    upload.seek(0)
    content = upload.read(MDF_PROOF_MAX_BYTES + 1)
    if len(content) > MDF_PROOF_MAX_BYTES:
        raise ValidationError({"proof_file": f"The file is larger than {limit_mb} MB; send a smaller one or a link."})
    if not content:
        raise ValidationError({"proof_file": "The file is empty."})
    for signature, extension in PROOF_SIGNATURES.items():
        if content.startswith(signature):
            return content, extension
    raise ValidationError({"proof_file": "Proof is a PDF, PNG or JPEG file (this one is none of them), or a link."})


def mdf_request_claim(
    *,
    actor,
    request: MdfRequest,
    claimed_amount=None,
    proof_file=None,
    proof_url: str = "",
    proof_note: str = "",
    now: datetime | None = None,
) -> MdfRequest:
    """The partner admin claims an approved request once the activity ran, with proof and what it cost
    (at most the approved amount; default: all of it)."""
    if not actor.is_partner_admin:
        raise PermissionDenied("The partner's admins claim market development funds.")
    now = now or timezone.now()
    proof_url, proof_note = (proof_url or "").strip(), (proof_note or "").strip()
    if not proof_file and not proof_url:
        raise ValidationError({"proof_file": "Attach proof of the activity (a PDF, PNG or JPEG), or give a link."})
    if proof_url:
        try:
            URLValidator(schemes=["https", "http"])(proof_url)
        except ValidationError:
            raise ValidationError({"proof_url": "A web address, https://…"}) from None
        if len(proof_url) > 500:
            raise ValidationError({"proof_url": "At most 500 characters."})
    if len(proof_note) > 1000:
        raise ValidationError({"proof_note": "At most 1000 characters."})
    content = _proof_file(proof_file) if proof_file else None
    with transaction.atomic():
        request = _locked(actor, request)
        _status_is(request, MdfStatus.APPROVED, "claimed")
        currency = request.currency
        claimed = request.amount if claimed_amount in (None, "") else _money(claimed_amount, currency, "claimed_amount")
        if claimed > request.amount:
            raise ValidationError(
                {"claimed_amount": f"At most the approved {money_string(request.amount, currency)} {currency}."}
            )
        request.status = MdfStatus.CLAIMED
        request.claimed_amount = claimed
        request.proof_url, request.proof_note = proof_url, proof_note
        request.claimed_by, request.claimed_at = actor, now
        if content is not None:
            data, extension = content
            request.proof_file.save(f"{uuid.uuid4().hex}.{extension}", ContentFile(data), save=False)
        request.save()
    notify_managers(
        kind="mdf.claimed",
        title=f"MDF claimed: {request.partner.name}, {money_string(claimed, currency)} {currency}",
        body=f"“{request.activity}” claimed with proof; mark it paid once paid.",
        url=request.get_absolute_url(),
    )
    return request


def mdf_request_mark_paid(*, actor, request: MdfRequest, reference: str, paid_at: datetime | None = None) -> MdfRequest:
    _require_manager(actor, "record MDF payments")
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": "The payment's reference (bank transfer id)."})
    with transaction.atomic():
        request = _locked(actor, request)
        _status_is(request, MdfStatus.CLAIMED, "marked paid")
        request.status = MdfStatus.PAID
        request.payment_reference = reference[:200]
        request.paid_by, request.paid_at = actor, paid_at or timezone.now()
        request.save()
    c = request.currency
    _tell_partner(
        request,
        kind="mdf.status_changed",
        title=f"MDF paid: {request.activity}",
        body=f"{money_string(request.claimed_amount, c)} {c} paid, reference {request.payment_reference}.",
    )
    return request


def _tell_partner(request: MdfRequest, *, kind: str, title: str, body: str) -> None:
    admins = User.objects.filter(
        membership__partner_id=request.partner_id, membership__role=Role.PARTNER_ADMIN, is_active=True
    )
    users = [*admins, request.requested_by]
    notify(users=users, kind=kind, title=title, body=body, url=request.get_absolute_url())
