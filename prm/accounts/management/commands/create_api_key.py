from django.core.management.base import CommandError

from prm.accounts.models import User
from prm.accounts.services import api_key_create
from prm.core.commands import AuditedCommand


class Command(AuditedCommand):
    help = "Create an API key acting as a user; the key is printed on the last line (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="email of the user the key acts as")
        parser.add_argument("--name", default="command line", help="what the key is for")

    def handle(self, *args, user, name, **options):
        owner = User.objects.filter(email__iexact=user, is_active=True).first()
        if owner is None:
            raise CommandError(f"no active user with the email {user!r}")
        api_key, secret = api_key_create(user=owner, name=name)
        self.stderr.write(f"API key “{api_key.name}” for {owner.email} ({owner.role_label}); store it now:")
        self.stdout.write(secret)
