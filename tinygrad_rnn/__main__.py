"""``python -m tinygrad_rnn ...``: the ``tinygrad-rnn`` command line."""

from .cli import main

raise SystemExit(main())
