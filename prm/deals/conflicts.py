"""Conflict detection: what a deal registration collides with.

A registration is compared, by domain and by normalized company name (prm/deals/names.py), with

- the vendor's customers, any partner's: the same **domain** means the prospect already is a
  customer, and a registration for it is refused (on `domain`): existing customers grow through
  their subscription, not through a new deal. The same **name** under another domain may be a
  subsidiary or a namesake: it is kept as a conflict for the channel manager to judge;
- the other partners' **open** registrations: submitted ones, and approved ones still protected.
  They are kept as conflicts; a registration cannot be approved while another partner's approved
  registration of the same prospect is protected. The same partner registering a domain twice
  is refused (one registration per prospect and partner).

Conflicts are stored on the registration (`conflicts`, `has_conflicts`) and refreshed whenever it
or a registration it collides with changes, so every read shows them without recomputing; the
decisions (approve, won) recompute them inside their transaction and decide on the fresh result.

Each stored conflict carries two texts: `message`, safe to show the registering partner (another
partner is never named), and `detail`, for channel managers (names, links).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Q

from prm.customers.models import Customer
from prm.deals.models import OPEN_STATUSES, DealRegistration, DealStatus
from prm.deals.names import normalize_company_name

# An arbitrary constant key for pg_advisory_xact_lock: "PRM deal registrations".
_DEALS_LOCK = 0x50524D_0D11


def registrations_lock() -> None:
    """Registrations and decisions run one at a time (inside transaction.atomic), so two partners
    registering the same prospect at once still see each other. SQLite has one writer already."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DEALS_LOCK])


@dataclass
class Detected:
    customers_by_domain: list = field(default_factory=list)
    customers_by_name: list = field(default_factory=list)
    deals: list = field(default_factory=list)  # other registrations, open (and protected when approved)


def _customers_named(company_key: str, *, exclude_domain: str) -> list:
    """Customers whose normalized name is `company_key`. The normalization (accents, legal forms)
    has no portable SQL equivalent, so names are compared in Python: one narrow query of ids and
    names (tens of thousands of rows are a few milliseconds), then the matches are loaded."""
    matches = [
        pk
        for pk, name in Customer.objects.exclude(domain=exclude_domain).values_list("pk", "name").iterator()
        if normalize_company_name(name) == company_key
    ]
    return list(Customer.objects.filter(pk__in=matches).select_related("reseller").order_by("pk")) if matches else []


def detect(*, domain: str, company_key: str, now: datetime, exclude_pk=None, names: bool = True) -> Detected:
    detected = Detected()
    detected.customers_by_domain = list(Customer.objects.filter(domain=domain).select_related("reseller"))
    if names:
        detected.customers_by_name = _customers_named(company_key, exclude_domain=domain)
    deals = (
        DealRegistration.objects.filter(Q(domain=domain) | Q(company_key=company_key), status__in=OPEN_STATUSES)
        .exclude(pk=exclude_pk)
        .select_related("partner")
        .order_by("created_at", "pk")
    )
    detected.deals = [deal for deal in deals if deal.status == DealStatus.SUBMITTED or deal.is_protected(now)]
    return detected


def entries(detected: Detected, *, partner_id: int, domain: str, company_key: str) -> list[dict]:
    """The stored form of what was detected."""
    rows = []
    for customer in detected.customers_by_domain + detected.customers_by_name:
        match = "domain" if customer.domain == domain else "name"
        own = customer.reseller_id == partner_id
        what = f"the domain {domain}" if match == "domain" else "the company name"
        whose = f"Your customer {customer.name}" if own else "An existing customer of another partner"
        rows.append(
            {
                "kind": "customer",
                "match": match,
                "customer": customer.pk,
                "partner": customer.reseller_id,
                "same_partner": own,
                "message": f"{whose} has {what}.",
                "detail": f"Customer {customer.name} ({customer.external_id}, {customer.domain}) of "
                f"{customer.reseller.name} has {what}.",
            }
        )
    for other in detected.deals:
        match = "domain" if other.domain == domain else "name"
        own = other.partner_id == partner_id
        state = (
            f"approved, protected until {other.protected_until:%Y-%m-%d}"
            if other.status == DealStatus.APPROVED
            else "submitted, waiting for a decision"
        )
        what = f"the domain {domain}" if match == "domain" else f"the company name ({other.company})"
        whose = "Another registration of your partner" if own else "Another partner's registration"
        rows.append(
            {
                "kind": "deal",
                "match": match,
                "deal": other.pk,
                "partner": other.partner_id,
                "same_partner": own,
                "status": other.status,
                "protected_until": other.protected_until.isoformat() if other.protected_until else None,
                "message": f"{whose}, made {other.created_at:%Y-%m-%d}, has {what} ({state}).",
                "detail": f"{other.partner.name} registered {other.company} ({other.domain}) on "
                f"{other.created_at:%Y-%m-%d}, deal #{other.pk} ({state}).",
            }
        )
    return rows


def store(deal: DealRegistration, rows: list[dict]) -> None:
    deal.conflicts = rows
    deal.has_conflicts = bool(rows)


def refresh(deal: DealRegistration, *, now: datetime, names: bool = True) -> Detected:
    """Recompute `deal`'s conflicts (the caller saves). Without `names`, the customers matched by
    name are kept from the last full detection (the scan is saved for the registrations that
    changed; the others' name matches do not move when a registration elsewhere changes)."""
    detected = detect(domain=deal.domain, company_key=deal.company_key, now=now, exclude_pk=deal.pk, names=names)
    rows = entries(detected, partner_id=deal.partner_id, domain=deal.domain, company_key=deal.company_key)
    if not names:
        kept = [row for row in deal.conflicts if row.get("kind") == "customer" and row.get("match") == "name"]
        rows = kept + rows
    store(deal, rows)
    return detected


def refresh_counterparts(deal: DealRegistration, *, now: datetime) -> None:
    """After `deal` was registered or changed status: the open registrations it collides with see
    it (or stop seeing it) in their own stored conflicts."""
    others = (
        DealRegistration.objects.filter(Q(domain=deal.domain) | Q(company_key=deal.company_key))
        .filter(status__in=OPEN_STATUSES)
        .exclude(pk=deal.pk)
        .select_for_update(of=("self",))
    )
    for other in others:
        refresh(other, now=now, names=False)
        other.save(update_fields=["conflicts", "has_conflicts", "updated_at"])


def visible_conflicts(deal: DealRegistration, user, *, now: datetime) -> list[dict]:
    """The conflicts as `user` may read them: managers the detail with links, partners the message.
    A protection that has lapsed since the conflict was stored is said so."""
    rows = []
    for row in deal.conflicts or []:
        lapsed = bool(
            row.get("kind") == "deal"
            and row.get("status") == DealStatus.APPROVED
            and row.get("protected_until")
            and datetime.fromisoformat(row["protected_until"]) <= now
        )
        text = row["detail"] if user.is_manager else row["message"]
        if lapsed:
            text += " Its protection has lapsed since."
        shown = {"kind": row["kind"], "match": row["match"], "text": text, "lapsed": lapsed}
        if user.is_manager:
            shown["deal"] = row.get("deal")
            shown["customer"] = row.get("customer")
            shown["partner"] = row.get("partner")
        rows.append(shown)
    return rows


def blocking_protection(detected: Detected, *, partner_id: int, now: datetime):
    """Another partner's approved registration of the same prospect still protected, if any."""
    for other in detected.deals:
        if other.partner_id != partner_id and other.is_protected(now):
            return other
    return None
