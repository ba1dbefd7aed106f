# The metering fixtures (the vendor's metrics, API keys per role), shared with tests/usage.
from tests.usage.conftest import bearer, metrics  # noqa: F401
