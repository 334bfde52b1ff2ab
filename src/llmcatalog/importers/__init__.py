"""Importers: turn what describes a checkpoint into values (:class:`Architecture`, :class:`Model`).

``hfconfig`` reads a Hugging Face ``config.json``; ``local`` a model folder (config + safetensors
headers); ``gguf`` a GGUF file's header; ``hub`` a Hub repository (cache first); ``files`` opens
regular files only, with bounded reads. The optional packages (``gguf``, ``huggingface_hub``) are
imported inside the functions that need them.

Importers read values and the calculus (for exact parameter counts); they never read the catalog
(``llmcatalog.registry.resolve`` combines the two for the command line).
"""
