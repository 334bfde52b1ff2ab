"""Accuracy: comparing estimates with what was measured (published figures, ``figures``).

The fake-tensor tracer, which needs the optional ``trace`` extra, stays in :mod:`llmcatalog.trace`.
"""
