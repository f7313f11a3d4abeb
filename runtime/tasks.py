"""Celery tasks: thin wrappers, ids in, one service call.

Sections: deployment (Save & Deploy fan-out) and pipeline (source runs, deliveries)."""
