"""What the resource library accepts as an upload: small files of document, image and archive types.

Kinds a browser would run (HTML, SVG, JavaScript) are refused even though downloads are sent as
attachments: an allow-list of what partners need, not a deny-list of what is known to be dangerous.
"""

from pathlib import PurePath

from django.core.exceptions import ValidationError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MB
ALLOWED_EXTENSIONS = ("csv", "docx", "jpeg", "jpg", "md", "pdf", "png", "pptx", "txt", "xlsx", "zip")
# Text files whose co-brandable copies get the partner's name filled in on download.
TEXT_EXTENSIONS = ("csv", "md", "txt")


def file_extension(name: str) -> str:
    return PurePath(name or "").suffix.lower().lstrip(".")


def validate_upload(file) -> None:
    # A file already stored was checked when it was uploaded (and reading its size would stat it).
    if getattr(file, "_committed", False):
        return
    extension = file_extension(getattr(file, "name", ""))
    if extension not in ALLOWED_EXTENSIONS:
        allowed = ", ".join(f".{name}" for name in ALLOWED_EXTENSIONS)
        shown = f".{extension}" if extension else "no extension"
        raise ValidationError(f"Files of type {shown} cannot be uploaded. Allowed: {allowed}.", code="file_type")
    size = getattr(file, "size", None)
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"The file is {size:,} bytes; uploads are limited to {MAX_UPLOAD_BYTES // (1024 * 1024)} MB "
            f"({MAX_UPLOAD_BYTES:,} bytes).",
            code="file_too_large",
        )
