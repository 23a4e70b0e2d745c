"""Runs to numbers: per-run metrics, normalisation, ranking, statistics; imports numpy, pandas, worlds' suites only."""
