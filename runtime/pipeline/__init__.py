"""The event pipeline: ingest -> source function -> source inserts -> routing -> destination.

Modules: `sources` (entry points and source function runs), `routing` (queues, flushes,
integrations), `delivery` (destination inserts, destination function, retries, dedupe),
`invoke` (one sandbox call per batch or per event, and verdicts), `outcomes` (error
categories, retry policies), `records` (counters, error log), `store` (Redis buffers),
`samples` (recent events per source, for the editor's test pane).
See docs/pipeline.md.
"""
