"""Session-wide test settings."""

import torch

# The reference computations use tiny tensors: handing them to a second thread costs far more
# than the work itself (a small backward took ~38 ms with threads, ~0.14 ms without).
torch.set_num_threads(1)
