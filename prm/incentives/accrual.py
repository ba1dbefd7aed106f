"""Accrual: what partners earn on finalized invoices, and what credit notes and voids take back.

    accrue_invoice(invoice)      finalized invoice → one entry per line · matching rule (+ a bonus)
    clawback_credit_note(note)   credit note → negative entries, proportional to what it gave back
    clawback_void(invoice)       void → every entry of the invoice reversed
    accrue_growth(period)        closed period → growth-accelerator entries per partner · currency
    commissions_sync(period)     all of the above, caught up idempotently

Every function may run any number of times: each entry has a natural key (an accrual: invoice
line · rule · partner; a clawback: credit note · rule · line · partner; growth: rule · partner ·
period · currency) and what exists is never written again. The ledger is append-only: a
correction is a new entry, dated in the period it happens (a credit note issued in November
takes back in November what October's invoice earned), so a paid statement never changes.

What counts as consumption revenue: every line of the invoice, whatever its model — usage and
flat charges, the minimum-commitment true-up, a prepaid credit pack bought (positive) and the
prepaid credits applied (negative). Partners earn on the cash their customers are billed: a
pack earns when it is bought, and the usage it later pays for is netted out by the negative
credits line, so the same money never earns twice.

Amounts are Decimal, computed exactly and rounded once per entry with `round_money`; a total
is the sum of rounded entries (summed in Python: SQLite's SUM would add floats).

The matching itself (`prospective_entries`) is shared with the forecast, which runs it on the
open period's drafts without storing anything.
"""

from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery

from prm.billing.models import CreditNote, Invoice, InvoiceLine, InvoiceStatus
from prm.core.models import ClosedBillingPeriod
from prm.core.money import plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer, Subscription
from prm.incentives import rules as rule_book
from prm.incentives.models import CommissionEntry, CommissionRule, RuleKind
from prm.partners.models import Partner

HUNDRED = Decimal(100)
EXPLANATION_LENGTH = CommissionEntry._meta.get_field("explanation").max_length
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LINE_LABELS = {
    "flat": "flat fee",
    "minimum_commitment": "minimum-commitment true-up",
    "credit_pack": "prepaid credit pack bought",
    "prepaid_credit": "prepaid credits applied",
}


def month_label(period: BillingPeriod | str) -> str:
    period = BillingPeriod.parse(period) if isinstance(period, str) else period
    return f"{_MONTHS[period.month - 1]} {period.year}"


def money_text(amount: Decimal, currency: str) -> str:
    """1234.5 USD → "1,234.50" (for explanations; the API gives plain strings)."""
    return format(round_money(amount, currency), ",f")


def _rate_text(rate: Decimal) -> str:
    return plain_decimal(rate)


def _clip(text: str) -> str:
    return text if len(text) <= EXPLANATION_LENGTH else text[: EXPLANATION_LENGTH - 1] + "…"


def _months_between(start: BillingPeriod, period: BillingPeriod) -> int:
    return (period.year - start.year) * 12 + period.month - start.month


# --- what an entry will be, before it is stored ---------------------------------------------


@dataclass
class Prospect:
    """A commission entry before it is stored; the forecast shows these without storing them."""

    partner: Partner
    customer: Customer | None
    rule: CommissionRule
    period: str
    currency: str
    base_amount: Decimal
    rate: Decimal | None
    amount: Decimal
    explanation: str
    invoice: Invoice | None = None
    invoice_line: InvoiceLine | None = None

    @property
    def key(self) -> tuple:
        """Its natural key among an invoice's accruals: rule · partner · line."""
        return (self.rule.pk, self.partner.pk, self.invoice_line.pk if self.invoice_line else None)

    def as_entry(self, **extra) -> CommissionEntry:
        return CommissionEntry(
            partner=self.partner,
            customer=self.customer,
            rule=self.rule,
            invoice=self.invoice,
            invoice_line=self.invoice_line,
            period=self.period,
            currency=self.currency,
            base_amount=self.base_amount,
            rate=self.rate,
            amount=self.amount,
            explanation=_clip(self.explanation),
            **extra,
        )


@dataclass
class InvoiceFacts:
    """What the rules need to know about one invoice, loaded for many invoices at once."""

    invoice: Invoice  # with customer → reseller (tier, parent → tier) and plan_version → plan
    lines: list[InvoiceLine]  # with metric, by position
    customer_start: BillingPeriod | None  # the period the customer's earliest subscription started in
    first_invoice: bool  # the customer's first invoice: it earns the new-customer bonus
    bonuses_earned: frozenset[str] = frozenset()  # bonus rule codes already earned on this customer


def bonuses_earned(customer_ids) -> dict[int, frozenset[str]]:
    """The new-customer bonus codes each customer has earned its partner (net of reversals)."""
    net: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    earned = CommissionEntry.objects.filter(customer_id__in=customer_ids, rule__kind=RuleKind.NEW_CUSTOMER_BONUS)
    for customer_id, code, amount in earned.values_list("customer_id", "rule__code", "amount"):
        net[customer_id, code] += amount
    codes: dict[int, set[str]] = defaultdict(set)
    for (customer_id, code), amount in net.items():
        if amount > 0:
            codes[customer_id].add(code)
    return {customer_id: frozenset(found) for customer_id, found in codes.items()}


def load_invoice_facts(invoices, *, drafts: bool = False) -> list[InvoiceFacts]:
    """Facts for `invoices` (ids or rows) in a fixed number of queries, however many there are.

    The first invoice of a customer is its earliest finalized one (by period, then number order);
    for drafts (the forecast), a customer with no finalized invoice yet has its earliest draft.
    """
    ids = [getattr(invoice, "pk", invoice) for invoice in invoices]
    if not ids:
        return []
    rows = list(
        Invoice.objects.filter(pk__in=ids)
        .select_related(
            "customer__reseller__tier", "customer__reseller__parent__tier", "plan_version__plan", "subscription"
        )
        .order_by("period", "pk")
    )
    # Read apart, not prefetched: a prefetch points each line back at its invoice, a reference
    # cycle only a full garbage collection frees, so a period close's batches (invoices, lines,
    # customers, partners, plans) would pile up until one ran.
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    ordered = InvoiceLine.objects.filter(invoice_id__in=ids).select_related("metric").order_by("invoice_id", "position")
    for line in ordered:
        lines[line.invoice_id].append(line)
    customer_ids = {row.customer_id for row in rows}

    def earliest(status):
        invoices_of = Invoice.objects.filter(customer=OuterRef("pk"), status=status).order_by("period", "pk")
        return Subquery(invoices_of.values("pk")[:1])

    starts = Subscription.objects.filter(customer=OuterRef("pk")).order_by("started_at").values("started_at")[:1]
    customers = {
        row["pk"]: row
        for row in Customer.objects.filter(pk__in=customer_ids)
        .annotate(first_final=earliest(InvoiceStatus.FINALIZED), first_draft=earliest(InvoiceStatus.DRAFT))
        .annotate(started=Subquery(starts))
        .values("pk", "first_final", "first_draft", "started")
    }
    bonuses = bonuses_earned(customer_ids)
    facts = []
    for row in rows:
        customer = customers[row.customer_id]
        if drafts:
            first = customer["first_final"] is None and customer["first_draft"] == row.pk
        else:
            first = customer["first_final"] == row.pk
        facts.append(
            InvoiceFacts(
                invoice=row,
                lines=lines[row.pk],
                customer_start=BillingPeriod.containing(customer["started"]) if customer["started"] else None,
                first_invoice=first,
                bonuses_earned=bonuses.get(row.customer_id, frozenset()),
            )
        )
    return facts


def _narrowed_out(rule: CommissionRule, earner: Partner, plan_code: str, line: InvoiceLine | None) -> bool:
    if rule.tier_id and earner.tier_id != rule.tier_id:
        return True
    if rule.plan_id and plan_code != rule.plan.code:
        return True
    return bool(rule.metric_id and (line is None or line.metric_id != rule.metric_id))


def _line_plan(facts: InvoiceFacts, line: InvoiceLine) -> tuple[str, str]:
    """(plan code, label) of a line: a line of one phase of a mid-period plan change is that plan's."""
    plan = facts.invoice.plan_version.plan
    code = (line.charge or {}).get("phase", {}).get("plan") or plan.code
    return code, (plan.name if code == plan.code else code)


def _line_context(facts: InvoiceFacts, line: InvoiceLine, plan_label: str) -> str:
    label = line.metric.code if line.metric_id else _LINE_LABELS.get(line.model, line.model)
    return f"{plan_label} · {label}, {month_label(facts.invoice.period)}"


def _share_rate(rule: CommissionRule, facts: InvoiceFacts, earner: Partner) -> tuple[Decimal | None, str]:
    """The rate of a revenue share for this invoice, and what it is when it is not the plain rate."""
    if rule.first_months and rule.first_months_rate is not None and facts.customer_start is not None:
        month = max(_months_between(facts.customer_start, BillingPeriod.parse(facts.invoice.period)) + 1, 1)
        if month <= rule.first_months:
            return rule.first_months_rate, f" (first-months rate: period {month} of {rule.first_months})"
    if rule.rate is not None:
        return rule.rate, ""
    base = rule_book.tier_base_rate(earner.tier)
    return base, f" ({earner.tier.name} tier base rate)"


def prospective_entries(facts: InvoiceFacts, rules: list[CommissionRule]) -> list[Prospect]:
    """What `rules` earn on one invoice, line by line, before caps (a pure function of its inputs).

    - revenue_share: the customer's reseller earns rate % of each line the rule matches;
    - distributor_override: the reseller's distributor earns rate % of each matching line;
    - new_customer_bonus: the reseller earns the bonus, in the bonus's currency, on the
      customer's first invoice, once per rule code, carrying the invoice's first line.
    Growth accelerators are not per invoice (see `accrue_growth`).
    """
    invoice = facts.invoice
    customer = invoice.customer
    reseller = customer.reseller
    currency = invoice.currency
    found: list[Prospect] = []

    def add(rule, earner, line, base, rate, amount, explanation, currency=currency):
        found.append(
            Prospect(
                partner=earner, customer=customer, rule=rule, period=invoice.period, currency=currency,
                base_amount=base, rate=rate, amount=amount, explanation=explanation, invoice=invoice,
                invoice_line=line,
            )
        )  # fmt: skip

    for line in facts.lines:
        plan_code, plan_label = _line_plan(facts, line)
        context = _line_context(facts, line, plan_label)
        for rule in rules:
            if rule.kind == RuleKind.REVENUE_SHARE:
                if _narrowed_out(rule, reseller, plan_code, line):
                    continue
                rate, why = _share_rate(rule, facts, reseller)
                if rate is None:
                    continue  # no rate, and the partner's tier has no base rate: nothing earned
                amount = round_money(line.amount * rate / HUNDRED, currency)
                text = f"{_rate_text(rate)} %{why} of {money_text(line.amount, currency)} {currency} ({context})"
                add(rule, reseller, line, line.amount, rate, amount, text)
            elif rule.kind == RuleKind.DISTRIBUTOR_OVERRIDE:
                distributor = reseller.parent
                if distributor is None or _narrowed_out(rule, distributor, plan_code, line):
                    continue
                amount = round_money(line.amount * rule.rate / HUNDRED, currency)
                text = (
                    f"{_rate_text(rule.rate)} % distributor override of {money_text(line.amount, currency)} "
                    f"{currency} billed by {reseller.name} to {customer.name} ({context})"
                )
                add(rule, distributor, line, line.amount, rule.rate, amount, text)

    if facts.first_invoice:
        plan_code = invoice.plan_version.plan.code
        for rule in rules:
            if rule.kind != RuleKind.NEW_CUSTOMER_BONUS or rule.code in facts.bonuses_earned:
                continue
            if _narrowed_out(rule, reseller, plan_code, None):
                continue
            amount = round_money(rule.bonus_amount, rule.currency)
            what = f"invoice {invoice.number}" if invoice.number else "invoice"
            text = (
                f"New-customer bonus: {money_text(amount, rule.currency)} {rule.currency} for {customer.name}'s first "
                f"{what} ({month_label(invoice.period)})"
            )
            first_line = facts.lines[0] if facts.lines else None
            add(rule, reseller, first_line, rule.bonus_amount, None, amount, text, currency=rule.currency)
    return found


# --- caps -------------------------------------------------------------------------------------


def _cap_key(prospect: Prospect) -> tuple:
    return (prospect.partner.pk, prospect.rule.pk, prospect.period, prospect.currency)


def cap_usage(prospects: list[Prospect]) -> dict[tuple, Decimal]:
    """What each capped partner · rule · period · currency has earned so far (stored entries).

    Only what was earned in the period counts: accruals of the period's invoices and growth, not
    the clawbacks and reversals of earlier periods' invoices that happen to be dated in it.
    """
    keys = {_cap_key(p) for p in prospects if p.rule.cap_amount is not None and p.currency == p.rule.currency}
    used: dict[tuple, Decimal] = dict.fromkeys(keys, Decimal(0))
    if not keys:
        return used
    partners, rules, periods = ({key[i] for key in keys} for i in range(3))
    rows = (
        CommissionEntry.objects.filter(partner_id__in=partners, rule_id__in=rules, period__in=periods)
        .filter(credit_note__isnull=True)
        .filter(Q(invoice__isnull=True) | Q(invoice__period=F("period")))
        .values_list("partner_id", "rule_id", "period", "currency", "amount")
    )
    for partner_id, rule_id, period, currency, amount in rows:
        if (partner_id, rule_id, period, currency) in used:
            used[partner_id, rule_id, period, currency] += amount
    return used


def apply_caps(prospects: list[Prospect], used: dict[tuple, Decimal]) -> list[Prospect]:
    """Bound what one partner earns from a capped rule in one period (in the cap's currency).

    In order: the entry that would pass the cap is reduced to what is left (its explanation says
    so), the ones after it earn nothing and are left out, as are entries of 0. Negative entries
    (prepaid credits applied) are never cut: they lower what counts toward the cap. `used` is
    updated with what the kept prospects add.
    """
    kept = []
    for prospect in prospects:
        rule = prospect.rule
        if rule.cap_amount is not None and prospect.currency == rule.currency:
            key = _cap_key(prospect)
            spent = used.get(key, Decimal(0))
            room = max(rule.cap_amount - spent, Decimal(0))
            if prospect.amount > room:
                currency = prospect.currency
                reduced = round_money(room, currency)
                note = (
                    f" — reduced from {money_text(prospect.amount, currency)} to {money_text(reduced, currency)}: "
                    f"the rule pays at most {money_text(rule.cap_amount, currency)} {currency} per period"
                )
                prospect = replace(prospect, amount=reduced, explanation=prospect.explanation + note)
            used[key] = spent + prospect.amount
        if prospect.amount != 0:
            kept.append(prospect)
    return kept


def _lock_partners(prospects: list[Prospect]) -> None:
    """Serialize accruals that earn for the same partners (caps and bonuses read what exists)."""
    ids = sorted({p.partner.pk for p in prospects})
    if ids:
        list(Partner.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def _store(prospects: list[Prospect]) -> list[CommissionEntry]:
    entries = [prospect.as_entry() for prospect in prospects]
    return CommissionEntry.objects.bulk_create(entries)


# --- accrual ----------------------------------------------------------------------------------


def _locked_invoice(pk: int) -> Invoice:
    return Invoice.objects.select_for_update(of=("self",)).get(pk=pk)


def accrue_invoice(invoice: Invoice) -> list[CommissionEntry]:
    """Create the commission entries of a finalized invoice; returns those created by this call.

    Idempotent: a line · rule · partner (the bonus: invoice · rule) that has an entry is skipped,
    so accruing again creates nothing. The invoice row is locked, so two runs never both write.
    """
    return accrue_invoices([invoice.pk])


def accrue_invoices(invoices, *, rules_cache: dict[str, list[CommissionRule]] | None = None) -> list[CommissionEntry]:
    """`accrue_invoice` for many invoices at once, in a fixed number of queries (the period close).

    The invoices are locked in primary-key order, then the partners that earn on them; the
    prospects are capped in (period, invoice, line) order, as one invoice after another would be.
    `rules_cache` (period → rules in force) lets a caller going through batches load rules once.
    """
    ids = [getattr(invoice, "pk", invoice) for invoice in invoices]
    rules_cache = {} if rules_cache is None else rules_cache
    with transaction.atomic():
        locked = list(
            Invoice.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, status=InvoiceStatus.FINALIZED)
            .order_by("pk")
            .values_list("pk", "period")
        )
        for _pk, period in locked:
            if period not in rules_cache:
                rules_cache[period] = rules_for(period)
        wanted = [pk for pk, period in locked if rules_cache[period]]
        facts = load_invoice_facts(wanted)
        prospects = [p for each in facts for p in prospective_entries(each, rules_cache[each.invoice.period])]
        if not prospects:
            return []
        _lock_partners(prospects)
        existing = set(
            CommissionEntry.objects.filter(invoice_id__in=wanted, credit_note__isnull=True).values_list(
                "invoice_id", "rule_id", "partner_id", "invoice_line_id"
            )
        )
        prospects = [p for p in prospects if (p.invoice.pk, *p.key) not in existing]
        bonuses = [p for p in prospects if p.rule.kind == RuleKind.NEW_CUSTOMER_BONUS]
        if bonuses:
            # Read again under the partner lock: another invoice of the customer may have earned it.
            earned = bonuses_earned({p.customer.pk for p in bonuses})
            prospects = [
                p
                for p in prospects
                if p.rule.kind != RuleKind.NEW_CUSTOMER_BONUS or p.rule.code not in earned.get(p.customer.pk, ())
            ]
        return _store(apply_caps(prospects, cap_usage(prospects)))


def rules_for(period: BillingPeriod | str) -> list[CommissionRule]:
    """The per-invoice rules in force for `period` (growth accelerators accrue per period)."""
    kinds = [RuleKind.REVENUE_SHARE, RuleKind.NEW_CUSTOMER_BONUS, RuleKind.DISTRIBUTOR_OVERRIDE]
    return rule_book.rules_in_force(period, kinds=kinds)


def _accruals(invoice: Invoice) -> list[CommissionEntry]:
    """The entries the invoice earned when it was accrued (not its clawbacks or reversal)."""
    return list(
        CommissionEntry.objects.filter(invoice=invoice, credit_note__isnull=True, period=invoice.period)
        .select_related("partner", "customer", "rule", "invoice_line")
        .order_by("pk")
    )


def _grouped(entries: list[CommissionEntry]) -> dict[tuple, tuple[CommissionEntry, Decimal]]:
    """Net amount per rule · partner · line · currency, with one entry of each as a template."""
    groups: dict[tuple, tuple[CommissionEntry, Decimal]] = {}
    for entry in entries:
        key = (entry.rule_id, entry.partner_id, entry.invoice_line_id, entry.currency)
        template, total = groups.get(key, (entry, Decimal(0)))
        groups[key] = (template, total + entry.amount)
    return groups


def clawback_credit_note(note: CreditNote) -> list[CommissionEntry]:
    """Take back, for each entry the invoice earned, the share of it the credit note gave back.

    A credit note of 25 % of the invoice's total takes back 25 % of each entry, rounded per entry.
    With several credit notes, each takes back round(entry × credited so far / total) less what
    the earlier ones took, so the amounts taken never drift from the share credited by rounding.
    Entries of every sign are taken back (a prepaid-credits entry is negative: its share comes
    back positive), so the partner's net commission follows the invoice's net total.

    The new-customer bonus is not taken back by a credit note: it rewards winning the customer,
    which a price correction does not undo; a void (the invoice never stood) reverses it.

    Idempotent per credit note · rule · line · partner. Accrues the invoice first if that has not
    happened yet, and takes back the invoice's earlier credit notes first, in order.
    """
    with transaction.atomic():
        invoice = _locked_invoice(note.invoice_id)
        if invoice.status != InvoiceStatus.FINALIZED or invoice.total <= 0:
            return []
        accrue_invoice(invoice)
        earned = {
            key: value
            for key, value in _grouped(_accruals(invoice)).items()
            if value[0].rule.kind != RuleKind.NEW_CUSTOMER_BONUS and value[1] != 0
        }
        if not earned:
            return []
        notes = list(invoice.credit_notes.filter(pk__lte=note.pk).order_by("pk"))
        done: dict[tuple, Decimal] = defaultdict(Decimal)  # what each note has taken back already
        for entry in CommissionEntry.objects.filter(credit_note__in=notes):
            done[entry.credit_note_id, entry.rule_id, entry.partner_id, entry.invoice_line_id, entry.currency] += (
                entry.amount
            )
        currency, total = invoice.currency, invoice.total
        credited = Decimal(0)
        taken: dict[tuple, Decimal] = defaultdict(Decimal)  # by the notes so far
        created: list[CommissionEntry] = []
        for each in notes:
            credited += each.amount
            share = plain_decimal((each.amount * HUNDRED / total).quantize(Decimal("0.01")))  # for people
            for key, (template, amount) in earned.items():
                if (each.pk, *key) in done:
                    taken[key] += done[each.pk, *key]
                    continue
                target = -round_money(amount * credited / total, template.currency)
                clawed = target - taken[key]
                taken[key] = target
                if clawed == 0:
                    continue
                text = (
                    f"Clawback: credit note {each.number} gave back {money_text(each.amount, currency)} of "
                    f"{money_text(total, currency)} {currency} on invoice {invoice.number} ({share} %), so "
                    f"{share} % of the {money_text(amount, template.currency)} earned on it"
                )
                created.append(
                    CommissionEntry(
                        partner_id=template.partner_id, customer_id=template.customer_id, rule_id=template.rule_id,
                        invoice=invoice, invoice_line_id=template.invoice_line_id, credit_note=each,
                        period=str(BillingPeriod.containing(each.created_at)), currency=template.currency,
                        base_amount=amount, rate=None, amount=clawed, explanation=_clip(text),
                    )
                )  # fmt: skip
        return CommissionEntry.objects.bulk_create(created)


def clawback_void(invoice: Invoice) -> list[CommissionEntry]:
    """Reverse everything a voided invoice earned: one entry per rule · partner · line bringing
    its net to zero, dated in the period of the void. Idempotent: a netted invoice adds nothing."""
    with transaction.atomic():
        invoice = _locked_invoice(invoice.pk)
        if invoice.status != InvoiceStatus.VOID:
            return []
        entries = list(CommissionEntry.objects.filter(invoice=invoice).select_related("rule").order_by("pk"))
        period = str(BillingPeriod.containing(invoice.voided_at or invoice.finalized_at))
        reason = f" ({invoice.void_reason})" if invoice.void_reason else ""
        created = [
            CommissionEntry(
                partner_id=template.partner_id,
                customer_id=template.customer_id,
                rule_id=template.rule_id,
                invoice=invoice,
                invoice_line_id=template.invoice_line_id,
                period=period,
                currency=template.currency,
                base_amount=net,
                rate=None,
                amount=-net,
                explanation=_clip(
                    f"Invoice {invoice.number} voided{reason}: reverses the {money_text(net, template.currency)} "
                    f"{template.currency} earned on it"
                ),
            )  # fmt: skip
            for template, net in _grouped(entries).values()
            if net != 0
        ]
        return CommissionEntry.objects.bulk_create(created)


# --- growth accelerator -----------------------------------------------------------------------


@dataclass
class Revenue:
    """A partner's consumption revenue in one currency for one period (growth is the partner's,
    not one customer's: its entries carry no customer)."""

    amount: Decimal = Decimal(0)

    def add(self, customer_id: int, amount: Decimal) -> None:
        self.amount += amount


def partner_revenue(invoices) -> dict[tuple[int, str], Revenue]:
    """Revenue per (partner, currency) of `invoices`: each invoice's total less its credit notes.

    Credit notes are subtracted: a month corrected by a credit note did not bring that money in,
    and counting it would turn the correction into growth of the month after.
    """
    revenue: dict[tuple[int, str], Revenue] = defaultdict(Revenue)
    rows = invoices.values_list("customer__reseller_id", "currency", "customer_id", "total", "credited")
    for partner_id, currency, customer_id, total, credited in rows.iterator(chunk_size=2000):
        revenue[partner_id, currency].add(customer_id, total - credited)
    return revenue


def finalized_revenue(period: BillingPeriod) -> dict[tuple[int, str], Revenue]:
    return partner_revenue(Invoice.objects.filter(period=str(period), status=InvoiceStatus.FINALIZED))


def growth_prospects(
    period: BillingPeriod,
    rules: list[CommissionRule],
    now: dict[tuple[int, str], Revenue],
    before: dict[tuple[int, str], Revenue],
) -> list[Prospect]:
    """rate % of each partner's growth over the previous period, per currency, when it grew.

    A partner with no revenue in the previous period has no base to grow from and earns nothing
    (its first month is not growth).
    """
    partner_ids = {partner_id for partner_id, _currency in now}
    partners = Partner.objects.select_related("tier").in_bulk(partner_ids) if rules and partner_ids else {}
    found = []
    previous = period.previous()
    for rule in rules:
        for (partner_id, currency), revenue in sorted(now.items(), key=lambda item: item[0]):
            earlier = before.get((partner_id, currency))
            if earlier is None or earlier.amount <= 0:
                continue
            growth = revenue.amount - earlier.amount
            partner = partners[partner_id]
            if growth <= 0 or (rule.tier_id and partner.tier_id != rule.tier_id):
                continue
            amount = round_money(growth * rule.rate / HUNDRED, currency)
            text = (
                f"{_rate_text(rule.rate)} % of the growth of your customers' consumption revenue: "
                f"{money_text(earlier.amount, currency)} → {money_text(revenue.amount, currency)} {currency} "
                f"({month_label(previous)} → {month_label(period)}), +{money_text(growth, currency)}"
            )
            found.append(
                Prospect(
                    partner=partner, customer=None, rule=rule, period=str(period),
                    currency=currency, base_amount=growth, rate=rule.rate, amount=amount, explanation=text,
                )
            )  # fmt: skip
    return found


def accrue_growth(period: BillingPeriod | str) -> list[CommissionEntry]:
    """Growth-accelerator entries of a closed period (see `growth_prospects`); idempotent per
    rule · partner · period · currency. Nothing before the period is closed and all its invoices
    are finalized: growth is measured on the final figures, once."""
    period = BillingPeriod.parse(period) if isinstance(period, str) else period
    rules = rule_book.rules_in_force(period, kinds=[RuleKind.GROWTH_ACCELERATOR])
    # Growth is measured once, on the closed period's final figures: a rule that has accrued
    # growth for the period is done with it.
    accrued = CommissionEntry.objects.filter(rule__in=rules, period=str(period), invoice__isnull=True)
    done = set(accrued.values_list("rule_id", flat=True).distinct()) if rules else set()
    rules = [rule for rule in rules if rule.pk not in done]
    if not rules or not ClosedBillingPeriod.objects.filter(period=str(period)).exists():
        return []
    if Invoice.objects.filter(period=str(period), status=InvoiceStatus.DRAFT).exists():
        return []  # the close is still finalizing this period's invoices
    prospects = growth_prospects(period, rules, finalized_revenue(period), finalized_revenue(period.previous()))
    if not prospects:
        return []
    with transaction.atomic():
        _lock_partners(prospects)
        existing = set(
            CommissionEntry.objects.filter(rule__in=rules, period=str(period), invoice__isnull=True).values_list(
                "rule_id", "partner_id", "currency"
            )
        )
        fresh = [p for p in prospects if (p.rule.pk, p.partner.pk, p.currency) not in existing]
        return _store(apply_caps(fresh, cap_usage(fresh)))


# --- catching up ------------------------------------------------------------------------------


@dataclass
class CommissionSyncSummary:
    period: str | None
    invoices: int = 0  # finalized invoices looked at
    accrued: int = 0  # entries created by accrual
    clawbacks: int = 0  # entries created by credit notes
    reversals: int = 0  # entries created by voids
    growth: int = 0  # growth-accelerator entries created

    def as_dict(self) -> dict:
        return {
            "period": self.period,
            "invoices": self.invoices,
            "accrued": self.accrued,
            "clawbacks": self.clawbacks,
            "reversals": self.reversals,
            "growth": self.growth,
        }


BATCH_SIZE = 500


def _pk_batches(queryset):
    """The primary keys of `queryset` in batches of BATCH_SIZE (memory stays flat)."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
        if not batch:
            return
        yield batch
        last = batch[-1]


def commissions_sync(period: BillingPeriod | str | None = None) -> CommissionSyncSummary:
    """Bring the ledger up to date, for one period or for all; safe to run any number of times.

    With a period: every finalized invoice of it is accrued (catching up a rule added for it),
    every credit note and void of its invoices taken back, and its growth accrued. Without one
    (the periodic catch-up), only what has nothing yet: finalized invoices without entries,
    credit notes without clawbacks, void invoices not yet reversed, growth of closed periods.
    """
    if isinstance(period, str):
        period = BillingPeriod.parse(period)
    summary = CommissionSyncSummary(period=str(period) if period else None)
    entries = CommissionEntry.objects.all()
    finalized = Invoice.objects.filter(status=InvoiceStatus.FINALIZED)
    notes = CreditNote.objects.filter(invoice__status=InvoiceStatus.FINALIZED)
    voided = Invoice.objects.filter(status=InvoiceStatus.VOID).filter(Exists(entries.filter(invoice=OuterRef("pk"))))
    if period is not None:
        finalized = finalized.filter(period=str(period))
        notes = notes.filter(invoice__period=str(period))
        voided = voided.filter(period=str(period))
        periods = [period]
    else:
        finalized = finalized.filter(~Exists(entries.filter(invoice=OuterRef("pk"))))
        notes = notes.filter(~Exists(entries.filter(credit_note=OuterRef("pk"))))
        reversal = entries.filter(invoice=OuterRef("pk"), credit_note__isnull=True).exclude(period=OuterRef("period"))
        voided = voided.filter(~Exists(reversal))
        periods = [BillingPeriod.parse(p) for p in ClosedBillingPeriod.objects.order_by("period").values_list(
            "period", flat=True
        )]  # fmt: skip

    rules_cache: dict[str, list[CommissionRule]] = {}
    for batch in _pk_batches(finalized):
        summary.invoices += len(batch)
        summary.accrued += len(accrue_invoices(batch, rules_cache=rules_cache))
    for batch in _pk_batches(notes):
        for note in CreditNote.objects.filter(pk__in=batch).order_by("pk"):
            summary.clawbacks += len(clawback_credit_note(note))
    for batch in _pk_batches(voided):
        for invoice in Invoice.objects.filter(pk__in=batch).order_by("pk"):
            summary.reversals += len(clawback_void(invoice))
    for each in periods:
        summary.growth += len(accrue_growth(each))
    return summary
