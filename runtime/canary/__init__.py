"""Canary deploys and the watch after a plain deploy (docs/safe-change.md).

models (Canary, CanaryArm), split (which version an event runs, arm figures), services
(start, promote, abort, the automatic decision), selectors (figures for the admin and the API).
"""
