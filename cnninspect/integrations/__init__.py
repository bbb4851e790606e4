"""Integrations: the command line, the pytest plugin and the Sphinx extension."""
