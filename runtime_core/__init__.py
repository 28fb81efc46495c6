"""MozaiksAI Runtime: declarative multi-agent workflows, one orchestration step per invocation."""

__version__ = "0.1.0"
