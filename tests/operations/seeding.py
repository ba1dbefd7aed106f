"""Shared by the seed_demo tests."""

from io import StringIO

from django.core.management import call_command


def seed() -> str:
    """Run `manage.py seed_demo` and return what it printed."""
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()
