"""GGUF catalog, llama-cpp backend, constrained tool calls, hardware offload."""
