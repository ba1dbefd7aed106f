from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect

# Where a manager who has not enrolled may still go: signing in and out, and enrolling.
_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz")


class ManagerMfaRequiredMiddleware:
    """Sends a channel manager without TOTP to enrol before anything else.

    Managers see every partner's revenue and approve payouts, so a password alone is not
    enough. On whenever DEBUG is off (settings.PRM_MFA_REQUIRED_FOR_MANAGERS).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._must_enrol(request):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Channel managers must set up two-factor authentication first."}, status=403
                )
            messages.warning(
                request, "Set up two-factor authentication to continue: it is required for channel managers."
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _must_enrol(request) -> bool:
        if not settings.PRM_MFA_REQUIRED_FOR_MANAGERS:
            return False
        user = request.user
        if not user.is_authenticated or not user.is_manager:
            return False
        if request.path.startswith(_EXEMPT_PREFIXES):
            return False
        return not is_mfa_enabled(user, [Authenticator.Type.TOTP])
