from django.test.utils import override_settings

from prm.core.commands import AuditedCommand
from prm.operations.demo import DEMO_PASSWORD, seed_demo


class Command(AuditedCommand):
    help = (
        "Load the demo data (tiers, partners, customers, metrics, six months of usage, plans and "
        "subscriptions, demo logins). Safe to run again: existing rows are left as they are and only "
        "days not yet sent are added."
    )

    def handle(self, *args, **options):
        # The demo's hand-offs notify people in the portal; their emails (to @demo.test addresses) would
        # only flood the console that `make run` prints the logins on, so they stay in memory.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            summary = seed_demo()
        created = summary.created
        self.stdout.write(
            f"{summary.vendor_name} demo: {summary.tiers} tiers, {summary.partners} partners, "
            f"{summary.customers} customers, {summary.users} demo users "
            f"(new this run: {created['partners']} partners, {created['customers']} customers, "
            f"{created['users']} users)."
        )
        self.stdout.write(summary.usage_line)
        self.stdout.write(summary.plans_line)
        self.stdout.write(summary.invoices.line)
        self.stdout.write(summary.incentives_line)
        self.stdout.write(summary.alerts_line)
        if summary.lifecycle_line:
            self.stdout.write(summary.lifecycle_line)
        # The logins come last: `make run` shows them just before the server starts.
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for email, who in summary.logins:
            self.stdout.write(f"  {email:<20}{who}")
