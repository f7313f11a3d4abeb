"""The REST API shaped like Segment's Public API: shared plumbing for the apps' `api/` packages.

Authentication (Bearer access tokens), the `{"data": ...}` / `{"errors": [...]}` envelopes,
cursor pagination, the per-token rate limit and Segment's versioned JSON media types live here;
each app's `api/` package holds its serializers and views. See docs/api.md.
"""
