"""Values: the frozen, typed facts everything else reads.

``model`` (:class:`Model`, :class:`Architecture` and the parts of a catalog entry), ``gpu``,
``tool``, ``workload`` (:class:`Inference`, :class:`FineTune`, :class:`Parallelism`) and
``precision`` (bytes per dtype, weight formats). Values import only values (and
:mod:`llmcatalog.errors`): no calculus, no catalog, no I/O.
"""
