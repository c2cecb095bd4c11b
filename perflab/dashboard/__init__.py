"""The dashboard the API serves at ``GET /``: runs, live progress, the state machine graph, charts."""
