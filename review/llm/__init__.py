"""The LLM layer: configuration (config), offline token counting (tokens), the answer cache (cache), versioned
prompt files (prompts), calls that fail well (calls), the grounding guard for numbers and citations (grounding),
report text as data and denial checks (safety), the part 五 draft (draft), offline answers (offline) and the
service the CLI, the UI and batch runs use (service). See docs/llm.md."""
