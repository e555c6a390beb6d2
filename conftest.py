"""Set-up for every pytest run, including the notebook kernels that nbval starts.

Environment variables set here are inherited by those kernels: matplotlib stays
headless and nothing downloads, whichever subset of the suite is run.
"""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("CONVKIT_OFFLINE", "1")
