"""The engine: trace a model, propagate meta tensors through it, price each call from the op catalogue.

Data flows one way: :mod:`.trace` records the calls, :mod:`.propagate` runs them on meta
tensors using the shape rules of :mod:`.ops`, and :mod:`.summary` turns the result into the
:mod:`.records` every analysis, renderer and integration reads.
"""
