"""Per-key request rates for the API.

Its own module: DRF reads the default throttle classes while loading its views, so this must
not live beside code that imports those views (the same reason as `pagination.py`).
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A rate per API key (per signed-in person on the browser session, per address when anonymous).

    The scope is the view's `throttle_scope` (`ingest` for usage events, `api` otherwise;
    `anon` without credentials), and its rate is read per request from
    `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, so settings (and the environment) decide it.
    It counts requests, not events: a batch of a thousand events is one request.
    """

    def __init__(self):
        # The rate depends on the request (its scope), so it is resolved in allow_request.
        pass

    def allow_request(self, request, view):
        authenticated = request.user is not None and request.user.is_authenticated
        self.scope = (getattr(view, "throttle_scope", None) or "api") if authenticated else "anon"
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if request.auth is not None and getattr(request.auth, "pk", None) is not None:
            ident = f"key-{request.auth.pk}"  # each API key its own allowance, even two of one person
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
