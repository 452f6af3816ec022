"""LLM infrastructure: configuration (config), offline token counting (tokens), the answer cache (cache) and
versioned prompt files (prompts)."""
