"""One module per command line command; see :mod:`cnninspect.integrations.cli`."""
