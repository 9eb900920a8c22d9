"""The agent engine: planner, executor, orchestrator, LLM providers. No HTTP in here."""
