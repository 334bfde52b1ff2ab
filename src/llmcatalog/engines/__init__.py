"""Serving engines: how vLLM, SGLang, llama.cpp and Ollama allocate memory."""
