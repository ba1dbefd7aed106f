"""CSV upload of usage: the same validation, deduplication and quarantine as the API, and a
report a person can open in a spreadsheet to fix the rows that did not go in."""

import csv
import io

from django.core.exceptions import PermissionDenied, ValidationError

from prm.usage.ingest import Outcome, events_ingest
from prm.usage.models import UsageUpload
from prm.usage.parsing import CSV_OPTIONAL_COLUMNS, CSV_REQUIRED_COLUMNS, MAX_BATCH_EVENTS, csv_row
from prm.usage.services import can_send_usage

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def default_source(user) -> str:
    """Event ids in a CSV are unique per uploader's organisation, not across partners."""
    return "csv:vendor" if user.is_manager else f"csv:partner-{user.partner.pk}"


def usage_csv_upload(*, actor, file, filename: str) -> UsageUpload:
    if not can_send_usage(actor):
        raise PermissionDenied("Only the vendor and partners upload usage.")
    raw = file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it."})
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": "The file is not UTF-8 text; export it as CSV UTF-8."}) from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in CSV_REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ValidationError(
            {"file": f"Missing column(s): {', '.join(missing)}. Expected: {', '.join(CSV_REQUIRED_COLUMNS)} "
             f"(optional: {', '.join(CSV_OPTIONAL_COLUMNS)})."}
        )  # fmt: skip
    reader.fieldnames = columns
    source = default_source(actor)
    events = [csv_row(index, row, default_source=source) for index, row in enumerate(reader)]
    if not events:
        raise ValidationError({"file": "The file has a header but no rows."})
    if len(events) > MAX_BATCH_EVENTS:
        raise ValidationError({"file": f"At most {MAX_BATCH_EVENTS} rows per file; this one has {len(events)}."})
    result = events_ingest(events, actor=actor)
    return UsageUpload.objects.create(
        uploaded_by=actor,
        filename=filename[:255],
        rows=len(events),
        accepted=result.accepted,
        duplicates=result.duplicates,
        quarantined=result.quarantined,
        rejected=len(result.rejected),
        report=_report(events, result),
    )


def _report(events, result) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "event_id", "outcome", "detail"])
    for event in events:
        outcome = result.outcomes.get(event.index, Outcome.REJECTED)
        if outcome == Outcome.REJECTED:
            detail = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in event.errors.items())
        elif outcome == Outcome.QUARANTINED:
            detail = result.reasons[event.index][1]
        elif outcome == Outcome.DUPLICATE:
            detail = "Already counted (same event id)."
        else:
            detail = ""
        # Line 1 is the header, so the first row is line 2: what a spreadsheet shows.
        writer.writerow([event.index + 2, event.event_id, outcome, detail])
    return out.getvalue()
