"""Test helpers shared by several test packages (the loopback OpenAI-compatible server)."""
