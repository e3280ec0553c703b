"""LLM backends behind one protocol (:class:`~cimedic.agent.llm.base.LLMClient`): any
OpenAI-compatible server (Ollama, llama.cpp server, vLLM, LM Studio)."""
