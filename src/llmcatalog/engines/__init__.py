"""How serving engines allocate GPU memory: vLLM, SGLang, llama.cpp and Ollama (one module per engine).

``dispatch`` chooses an engine by name (:data:`~llmcatalog.engines.dispatch.ENGINES`) and puts their
answers side by side.
"""
