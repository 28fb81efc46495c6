"""Modules shared by the test workflows of this folder, imported as ``workflows._shared.<module>`` (the
original MozaiksAI runtime's layout: a ``_shared`` folder beside the workflow folders)."""

ARROW = " -> "
