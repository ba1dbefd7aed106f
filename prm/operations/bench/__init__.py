"""`manage.py bench`: each section measures one part of the portal against a baseline taken in
the same run, and yields `Line`s (one JSON object each on stdout).

A section is a function `run(context: Context) -> Iterable[Line]`; adding one is a module here
and a line in SECTIONS. They run in this order when no section is named.
"""

from collections.abc import Callable, Iterable

from prm.operations.bench import api_lists, dashboards, ingest, rating
from prm.operations.bench.common import BenchError, Context, Line

Section = Callable[[Context], Iterable[Line]]

SECTIONS: dict[str, Section] = {
    "ingest": ingest.run,
    "rating": rating.run,
    "dashboards": dashboards.run,
    "api_lists": api_lists.run,
}

__all__ = ["SECTIONS", "BenchError", "Context", "Line", "Section"]
