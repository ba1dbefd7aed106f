"""The base of the portal's management commands: what they change is attributed to them in the audit log."""

from django.core.management.base import BaseCommand

from prm.core.audit import audit_origin


class AuditedCommand(BaseCommand):
    """A management command whose audited changes name it as their origin ("command close_period").

    A command that knows the person it works for (a flag such as `--as`) wraps that part in
    `acting_as(user)` as well; the origin still says it came from the command.
    """

    def execute(self, *args, **options):
        # execute(), not handle(): both `manage.py <name>` and call_command() pass through it.
        with audit_origin(f"command {self.command_name}"):
            return super().execute(*args, **options)

    @property
    def command_name(self) -> str:
        # The command's name is its module's, as Django finds it (prm/…/management/commands/<name>.py).
        return type(self).__module__.rsplit(".", 1)[-1]
