"""The memory calculus: pure functions from a value (an :class:`Architecture` and a workload)
to bytes.

One module per idea: ``params`` (exact parameter counts), ``weights`` (bytes per format),
``kvcache``, ``activations`` (inference), ``training`` (fine-tuning: states, gradients, saved
activations, sharding), ``overhead`` (CUDA context, allocator reserve), ``result``
(:class:`MemoryEstimate`) and ``estimate`` (:func:`estimate_vram`, :func:`fits`,
:func:`min_gpus`). The calculus imports values only: never the catalog, an importer or a face.
"""
