"""Billing periods: calendar months in UTC, half-open [start, end)."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class BillingPeriod:
    year: int
    month: int

    def __post_init__(self):
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, not {self.month}")

    @classmethod
    def parse(cls, text: str) -> "BillingPeriod":
        match = _PERIOD.match(text or "")
        if not match:
            raise ValueError(f"{text!r} is not a period; use YYYY-MM")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: datetime) -> "BillingPeriod":
        if moment.tzinfo is None:
            raise ValueError("naive datetime: billing periods are defined in UTC")
        moment = moment.astimezone(UTC)
        return cls(moment.year, moment.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive)."""
        return self.next().start

    def next(self) -> "BillingPeriod":
        return BillingPeriod(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> "BillingPeriod":
        return BillingPeriod(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
