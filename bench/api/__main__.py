"""`python -m bench.api`: the API benchmark (bench/api/run.py)."""

import sys

from bench.api.run import main

sys.exit(main())
