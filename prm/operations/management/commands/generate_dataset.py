from django.core.management.base import CommandError

from prm.core.commands import AuditedCommand
from prm.operations.dataset import DatasetError, generate_dataset


class Command(AuditedCommand):
    help = (
        "Generate a large, deterministic dataset (partners, customers, subscriptions, usage events and their "
        "rollups) in bulk, for measuring the portal at scale. Generated rows are prefixed gen-; a database holds "
        "one generated dataset (--replace deletes the previous one first). Progress on stderr, a summary on stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--partners", type=int, default=1000, help="Partners (1000).")
        parser.add_argument("--customers", type=int, default=20_000, help="Customers, one subscription each (20000).")
        parser.add_argument("--events", type=int, default=10_000_000, help="Usage events in all (10000000).")
        parser.add_argument(
            "--months", type=int, default=1, help="Full months of usage before the current month's (1)."
        )
        parser.add_argument("--seed", type=int, default=1, help="The same seed gives the same dataset (1).")
        parser.add_argument(
            "--workers", type=int, help="Connections writing side by side (PostgreSQL; default: one per core, up to 4)."
        )
        parser.add_argument(
            "--replace", action="store_true", help="Delete a previously generated dataset first (never a billed one)."
        )

    def handle(self, *args, partners, customers, events, months, seed, replace, workers, **options):
        try:
            summary = generate_dataset(
                partners=partners,
                customers=customers,
                events=events,
                months=months,
                seed=seed,
                replace=replace,
                workers=workers,
                progress=self._log,
            )
        except DatasetError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(str(summary))

    def _log(self, message: str) -> None:
        self.stderr.write(message)
        self.stderr.flush()
