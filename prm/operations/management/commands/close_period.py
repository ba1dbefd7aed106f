from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from prm.core.periods import BillingPeriod
from prm.operations.period_close import period_close


class Command(BaseCommand):
    help = (
        "Close a billing period: record it as closed (late usage for it is quarantined) and finalize "
        "every invoice of it. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("period", help="The month to close, YYYY-MM (UTC), e.g. 2026-10.")

    def handle(self, *args, **options):
        text = options["period"]
        try:
            period = BillingPeriod.parse(text)
        except ValueError:
            message = f"{text!r} is not a billing period: use YYYY-MM with a month 01-12, e.g. 2026-10."
            raise CommandError(message) from None
        try:
            summary = period_close(period=period)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(str(summary))
