"""Scores, Table 1 and figures built from the reconstructions."""
