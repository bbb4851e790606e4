"""Analyses built on a summary: receptive fields, FC-vs-conv, verification, budgets, snapshots."""
