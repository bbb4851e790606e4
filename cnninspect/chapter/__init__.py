"""The chapter's teaching material: its models, MNIST loading and the trainer.

The engine and the analyses never import from here; the integrations offer it as
pytest fixtures and CLI commands.
"""
