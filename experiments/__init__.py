"""Scripts that measure what keeps the assistant in its domain; run from the repository root
as modules (``python -m experiments.guard_select``), so that they import the packages as installed.
"""
