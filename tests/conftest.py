"""Test-wide guards. Tests never reach a real model: any attempt to open a connection to an LLM API fails."""
