"""The local dev server (``mozaiks serve``): the Lambda handlers behind ws://localhost:8000/ws, the HTTP API
under /api and a chat page at /, on embedded defaults. ``launcher.serve`` is the entry point."""
