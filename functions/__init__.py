"""Lambda entry points: thin wiring from API Gateway / SQS events to ``runtime_core``.

Only ``functions.worker`` imports the engine (AG2); the route handlers (connect, default, disconnect,
http_api) must stay fast on cold start and never import it.
"""
