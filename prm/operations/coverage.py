"""Market coverage: where the program's partners and their customers' consumption fall short of the
channel managers' target markets (industry × region).

    market_coverage()  # trailing 12 billing periods ending with the last closed one

For every cell of industry × region:

- partners: the partners of the cell that sell (stage sell, incentivize or accelerate);
- consumption: the trailing-12 revenue of the cell's partners (every stage), read exactly as the
  monthly tier evaluation reads it (prm/operations/tier_evaluation.py: finalized invoices only,
  net of credit notes, each currency converted to the program currency at its reference
  ExchangeRate and rounded once per partner and currency). A cell's consumption is the sum of its
  partners' converted totals, so it adds up to the figures on their tier evaluations. A currency
  without a rate is left out and named;
- a target market's goals and its shortfalls (goal − actual, never below zero).

Partners without a region are counted apart (`unplaced`): they belong to no cell.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count

from prm.core.periods import BillingPeriod
from prm.operations.tier_evaluation import _convert, _load_rates, _load_revenue, last_closed_period, window
from prm.partners.models import Industry, Partner, Region, Stage, TargetMarket
from prm.partners.selectors import amount_text

SELLING_STAGES = (Stage.SELL, Stage.INCENTIVIZE, Stage.ACCELERATE)


@dataclass
class CoverageCell:
    industry: str
    region: str
    currency: str
    partners: int = 0  # selling partners
    consumption: Decimal = field(default_factory=Decimal)  # program currency
    target: TargetMarket | None = None

    @property
    def industry_label(self) -> str:
        return Industry(self.industry).label

    @property
    def region_label(self) -> str:
        return Region(self.region).label

    @property
    def partner_shortfall(self) -> int:
        return max(self.target.goal_partners - self.partners, 0) if self.target else 0

    @property
    def consumption_shortfall(self) -> Decimal:
        if not self.target:
            return Decimal(0)
        return max(self.target.goal_consumption - self.consumption, Decimal(0))

    @property
    def short(self) -> bool:
        return self.partner_shortfall > 0 or self.consumption_shortfall > 0

    # As the page shows them: "120,000", "84,300.50".
    @property
    def consumption_text(self) -> str:
        return amount_text(self.consumption, self.currency)

    @property
    def goal_consumption_text(self) -> str:
        return amount_text(self.target.goal_consumption, self.currency) if self.target else ""

    @property
    def consumption_shortfall_text(self) -> str:
        return amount_text(self.consumption_shortfall, self.currency)


@dataclass
class Coverage:
    currency: str
    period_from: str | None  # the trailing window; None when no billing period is closed yet
    period_to: str | None
    cells: dict[tuple[str, str], CoverageCell]
    unplaced_partners: int = 0  # selling partners without a region
    unplaced_consumption: Decimal = field(default_factory=Decimal)  # of partners without a region
    missing_rates: list[str] = field(default_factory=list)

    @property
    def unplaced_consumption_text(self) -> str:
        return amount_text(self.unplaced_consumption, self.currency)

    @property
    def industries(self) -> list[tuple[str, str]]:
        return list(Industry.choices)

    @property
    def regions(self) -> list[tuple[str, str]]:
        return list(Region.choices)

    def cell(self, industry: str, region: str) -> CoverageCell:
        return self.cells[(industry, region)]

    @property
    def grid(self) -> list[tuple[str, list[CoverageCell]]]:
        """Rows of industries, each with its cells in the order of `regions`."""
        return [(label, [self.cells[(industry, region)] for region, _ in self.regions])
                for industry, label in self.industries]  # fmt: skip

    @property
    def targets(self) -> list[CoverageCell]:
        """The cells with a target, the largest consumption shortfall first."""
        cells = [cell for cell in self.cells.values() if cell.target]
        return sorted(cells, key=lambda cell: (-cell.consumption_shortfall, -cell.partner_shortfall,
                                               cell.industry, cell.region))  # fmt: skip

    @property
    def short_targets(self) -> int:
        return sum(1 for cell in self.targets if cell.short)


def market_coverage(*, period: BillingPeriod | None = None) -> Coverage:
    """Coverage of every industry × region over the 12 billing periods ending with `period` (default:
    the last closed one; with none closed, consumption is zero and the window None), in a fixed
    number of queries."""
    currency = settings.PRM_PROGRAM_CURRENCY
    period = period or last_closed_period()
    cells = {
        (industry, region): CoverageCell(industry=industry, region=region, currency=currency)
        for industry in Industry.values
        for region in Region.values
    }
    coverage = Coverage(
        currency=currency,
        period_from=str(window(period)[0]) if period else None,
        period_to=str(period) if period else None,
        cells=cells,
    )
    counts = (
        Partner.objects.filter(stage__in=SELLING_STAGES).order_by().values("industry", "region").annotate(n=Count("pk"))
    )
    for row in counts:
        cell = cells.get((row["industry"], row["region"]))
        if cell is None:
            coverage.unplaced_partners += row["n"]
        else:
            cell.partners += row["n"]
    if period is not None:
        revenue, rates = _load_revenue(period), _load_rates()
        missing = set()
        places = Partner.objects.filter(pk__in=list(revenue)).order_by().values_list("pk", "industry", "region")
        place = {pk: (industry, region) for pk, industry, region in places}
        for partner_id, partner_revenue in revenue.items():
            converted, without_rate = _convert(partner_revenue.trailing, rates, currency)
            missing.update(without_rate)
            total = sum(converted.values(), Decimal(0))
            cell = cells.get(place.get(partner_id))
            if cell is None:
                coverage.unplaced_consumption += total
            else:
                cell.consumption += total
        coverage.missing_rates = sorted(missing)
    for target in TargetMarket.objects.all():
        cells[(target.industry, target.region)].target = target
    return coverage
