"""Importers: turn what describes a checkpoint (a Hugging Face ``config.json``, later Hub
repositories, local folders and GGUF files) into values (:class:`Architecture`, :class:`Model`).

Importers read values and the calculus (for exact parameter counts); they never read the catalog.
"""
