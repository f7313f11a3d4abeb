"""The request inspector: a per-workspace URL on the platform that records what is sent to it.

`masking` hides secrets in recorded requests; `services` records them (from the sandbox's
captures and from the HTTP endpoint) and keeps the newest few; `selectors` reads them; `views`
is the HTTP endpoint; `admin` the pages. docs/editor.md, "Request inspector".
"""
