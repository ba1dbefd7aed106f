from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError

from prm.accounts.models import User
from prm.core.audit import acting_as
from prm.core.commands import AuditedCommand
from prm.core.periods import BillingPeriod
from prm.operations.period_close import period_close


class Command(AuditedCommand):
    help = (
        "Close a billing period: record it as closed (late usage for it is quarantined) and finalize "
        "every invoice of it. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("period", help="The month to close, YYYY-MM (UTC), e.g. 2026-10.")
        parser.add_argument(
            "--as",
            dest="as_email",
            metavar="EMAIL",
            help="The channel manager closing it (recorded as who closed it and in the audit log); "
            "without it the close is the system's.",
        )

    def handle(self, *args, **options):
        text = options["period"]
        try:
            period = BillingPeriod.parse(text)
        except ValueError:
            message = f"{text!r} is not a billing period: use YYYY-MM with a month 01-12, e.g. 2026-10."
            raise CommandError(message) from None
        actor = None
        if options.get("as_email"):
            actor = User.objects.filter(email__iexact=options["as_email"], is_active=True).first()
            if actor is None:
                raise CommandError(f"--as: no active user with the email {options['as_email']!r}")
        try:
            with acting_as(actor):
                summary = period_close(period=period, actor=actor)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        except PermissionDenied as error:
            raise CommandError(f"--as: {error}") from None
        self.stdout.write(str(summary))
