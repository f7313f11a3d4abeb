"""Dead letters you can read and replay: filters, bulk replay as a Celery task, admin and API.

The store itself (the DeadLetter model, `dead_letter_create`, retention) is the pipeline's:
runtime.pipeline.dead_letters. This package reads it (selectors), replays it (services,
tasks) and shows it (admin, api). docs/pipeline.md, Dead letters.
"""
