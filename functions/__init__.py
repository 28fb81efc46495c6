"""Lambda entry points, one module per function in template.yaml: event in, one call into ``runtime_core``,
response out. Each module runs ``cold_start`` for its role when Lambda imports it, so a bad configuration
fails the cold start with one log line naming the variables to fix.

Only ``functions.worker`` imports the engine (AG2), and only on its first step; the route handlers must stay
fast on cold start.
"""
