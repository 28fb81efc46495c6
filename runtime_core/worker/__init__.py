"""The step worker: claim a session, decide, run one engine step, commit, post, chain the next step."""
