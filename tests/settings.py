"""Test settings: the production settings (DEBUG off), with what a test machine needs."""

from prm.settings import *  # noqa: F403

# The test client speaks plain HTTP; the redirect to HTTPS is production's job.
SECURE_SSL_REDIRECT = False
# Hashing passwords at full strength dominates a suite that logs in a lot.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest needs collectstatic; tests render templates without it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests that exercise the MFA requirement switch it on explicitly.
PRM_MFA_REQUIRED_FOR_MANAGERS = False
SECRET_KEY = "tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
# Static files come from the finders in tests; there is no collectstatic output to serve.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None
