"""Dry-run replay of recent real traffic through a draft and the deployed versions
(docs/safe-change.md): models (ReplayRun), traffic (what is replayed), runner (the sandbox
calls in dry-run mode), compare (per-event differences), services, selectors, api, admin.
"""
