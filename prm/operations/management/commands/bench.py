import signal
import sys
import threading

from django.core.management.base import CommandError

from prm.core.commands import AuditedCommand
from prm.operations.bench import SECTIONS, BenchError, Context


class Command(AuditedCommand):
    help = (
        "Measure the portal against baselines taken in the same run; one JSON object per line on stdout, "
        "progress on stderr. Sections: " + ", ".join(SECTIONS) + " (all when none is named)."
    )

    def add_arguments(self, parser):
        parser.add_argument("sections", nargs="*", metavar="section", help=f"One of: {', '.join(SECTIONS)}.")
        parser.add_argument("--events", type=int, default=20_000, help="Events sent in batches of 1000 (20000).")
        parser.add_argument("--single", type=int, default=300, help="Requests of one event each (300).")
        parser.add_argument(
            "--url", help="Measure this running server (it must use the same database) instead of starting gunicorn."
        )
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers when the bench starts it (2).")
        # 2 by default: metering pipelines send concurrently, and two clients keep both gunicorn
        # workers busy. On a 2-core machine a second client hardly raises events/s (the server and
        # the database already use both cores) and lengthens every batch's latency.
        parser.add_argument("--clients", type=int, default=2, help="Client threads sending the batches (2).")
        parser.add_argument("--partners", type=int, default=100, help="rating: partners of the dataset (100).")
        parser.add_argument("--customers", type=int, default=1000, help="rating: customers, one subscription each.")
        parser.add_argument(
            "--dataset-events", type=int, default=400_000, help="rating: usage events of the dataset (400000)."
        )

    def handle(
        self, *args, sections, events, single, url, workers, clients, partners, customers, dataset_events, **options
    ):
        unknown = [name for name in sections if name not in SECTIONS]
        if unknown:
            raise CommandError(f"Unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}.")
        if workers < 1 or clients < 1:
            raise CommandError("--workers and --clients must be at least 1.")
        context = Context(
            events=events, single=single, url=url, workers=workers, clients=clients, partners=partners,
            customers=customers, dataset_events=dataset_events, log=self._log,
        )  # fmt: skip
        # A terminated bench still stops the server it started (the finally below).
        main_thread = threading.current_thread() is threading.main_thread()
        if main_thread:
            previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        try:
            for name in sections or list(SECTIONS):
                for line in SECTIONS[name](context):
                    self.stdout.write(line.as_json())
                    self.stdout.flush()
        except BenchError as error:
            raise CommandError(str(error)) from error
        finally:
            context.close()
            if main_thread:
                signal.signal(signal.SIGTERM, previous)

    def _log(self, message: str) -> None:
        self.stderr.write(message)
        self.stderr.flush()
