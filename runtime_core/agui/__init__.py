"""AG-UI: the session's events encoded as AG-UI events for connections that ask for it (``?encoding=agui``).

``encoder`` is the pure mapping (it imports the ``ag-ui-protocol`` package); ``delivery`` finds where a
connection's stream stands and encodes what is posted to it. Imported only when an AG-UI connection is
involved: the route handlers' cold start does not pay for it otherwise.
"""
