"""The WebSocket routes as API Gateway invokes them: ``$connect``, ``$default`` (frames), ``$disconnect``.

Each takes the API Gateway event and the Lambda context and returns the route response. ``functions/`` wraps
them for Lambda; the local server calls them directly with the same event shapes.
"""
