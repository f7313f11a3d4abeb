"""The event pipeline: ingest -> source function -> source inserts -> routing -> destination.

Modules: `sources` (entry points and source function runs), `routing` (source inserts,
integrations, fan-out to destinations), `queue` (the stage hand-off: enqueue, flushes, retry
later), `delivery` (destination inserts, destination function, retries, dedupe), `invoke`
(one sandbox call per batch or per event, and verdicts), `outcomes` (error categories, retry
policies), `records` (counters, error log), `dead_letters`, `retention`, `recovery` (the
sweep), `store` (Redis buffers), `samples` (recent events per source, for the editor's test
pane).
See docs/pipeline.md.
"""
