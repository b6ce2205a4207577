"""Scores, Table 1, the sweep summary of a multi-scenario run and figures built from the
reconstructions."""
