"""Session-wide test settings."""

import torch

# The reference computations use tiny tensors: handing them to a second thread costs far more
# than the work itself (a small backward took ~38 ms with threads, ~0.14 ms without).
torch.set_num_threads(1)

import os  # noqa: E402

from hypothesis import HealthCheck, settings  # noqa: E402

# Hypothesis profiles. The default is small and deterministic (the same examples on every run,
# so the suite never turns red at random); HYPOTHESIS_PROFILE=deep searches far more examples
# with fresh randomness, and CI runs it as a separate, time-bounded step.
settings.register_profile("default", max_examples=25, deadline=None, derandomize=True)
settings.register_profile(
    "deep", max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
