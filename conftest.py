"""Set-up for every pytest run, including the notebook kernels the tests start.

Environment variables set here are inherited by those kernels, so nothing
downloads whichever subset of the suite is run. MPLBACKEND is removed so that
the kernels draw with the inline backend, exactly as when the notebooks were
saved (the library tests switch themselves to Agg in tests/conftest.py).
"""

import os

os.environ.setdefault("CONVKIT_OFFLINE", "1")
os.environ.pop("MPLBACKEND", None)
