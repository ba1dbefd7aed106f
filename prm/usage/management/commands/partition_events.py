from django.core.management.base import BaseCommand, CommandError

from prm.usage.partitioning import DEFAULT_AHEAD, PartitioningError, partition_events, partition_plan


class Command(BaseCommand):
    help = (
        "PostgreSQL: partition the usage events table by month (UTC), in one transaction, with ingestion "
        "stopped. On a partitioned table, create the partitions of the months ahead that are missing: run it "
        "monthly. See docs/deploy.md."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ahead",
            type=int,
            default=DEFAULT_AHEAD,
            metavar="N",
            help=f"Create the partitions of the current month and of the N months after it (default {DEFAULT_AHEAD}).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Print the SQL it would run; change nothing.")

    def handle(self, *args, **options):
        try:
            if options["dry_run"]:
                plan = partition_plan(ahead=options["ahead"])
                self.stdout.write(plan.sql() or "-- nothing to do: every partition needed exists.\n", ending="")
                return
            plan = partition_events(ahead=options["ahead"])
        except PartitioningError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(plan.summary())
