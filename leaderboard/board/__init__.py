"""The board: store, submit and verify, shipped baselines, table, formats, plots; imports scoring, harness."""
