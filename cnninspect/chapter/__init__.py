"""The chapter's teaching material: its models, MNIST loading, the trainer, and its figures.

:mod:`.facts` holds the chapter's inputs and printed figures; :mod:`.replay` (``cnninspect
chapter``) recomputes each with cnninspect and names the chapter's errata.

The engine and the analyses never import from here; the integrations offer it as
pytest fixtures and CLI commands.
"""
