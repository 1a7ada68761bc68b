import os

from hypothesis import HealthCheck, settings

# CI runs a fixed, larger sample so failures reproduce; locally examples vary run to run.
settings.register_profile(
    "ci", max_examples=1000, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "dev", max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
