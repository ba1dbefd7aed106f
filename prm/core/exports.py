"""CSV export of a django-tables2 table (every row of the filtered list, not just one page)."""

import csv
from decimal import Decimal, InvalidOperation

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

EXPORT_CHUNK_ROWS = 2000

# Cells a spreadsheet would run as a formula (CSV injection); prefixed so they stay text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value):
        return value


def _safe(cell) -> str:
    text = "" if cell is None else str(cell)
    if text.startswith(_FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)  # a negative amount such as -12.50 is data, not a formula
    except InvalidOperation:
        return False
    return True


def table_csv_response(table, name: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    records = table.data.data
    if isinstance(records, QuerySet):
        # Read from the database in chunks as the response is sent: a QuerySet iterated as it is
        # is first loaded whole, every row of a list that may hold millions (usage events).
        table.rows.data = records.iterator(chunk_size=EXPORT_CHUNK_ROWS)
    # Columns declared with exclude_from_export=True (action links) are left out by as_values().
    rows = (writer.writerow([_safe(cell) for cell in row]) for row in table.as_values())
    filename = f"{slugify(name)}-{timezone.now():%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
