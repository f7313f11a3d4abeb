"""The REST API half of the permission matrix (tests/test_permission_matrix.py): one row per
endpoint and method, with the personas allowed, those who see the object but may not act (403),
and everyone else with a token (404). Written from docs/access-control.md, like the admin half
in tests/permission_matrix.py."""

from __future__ import annotations

from dataclasses import dataclass

from tests.permission_matrix import ACME, FN_ADMINS, FN_READERS, LOGGED_IN, NOBODY


@dataclass(frozen=True)
class ApiRow:
    """One API endpoint × method; `allowed` personas get `ok`, `see` personas (not allowed) 403,
    everyone else with a token 404; anonymous 401. Paths name fixtures in braces."""

    name: str
    method: str
    path: str
    allowed: set[str]
    see: set[str]
    body: dict | None = None
    ok: int = 200

    @property
    def write(self) -> bool:
        return self.method != "GET"

    def expected(self, persona: str) -> int:
        if persona == "anonymous":
            return 401
        if persona in self.allowed:
            return self.ok
        return 403 if persona in self.see else 404


SRC_READERS = {"owner", "read_only", "source_admin"}
SRC_ADMINS = {"owner", "source_admin"}
EVERY_TOKEN = LOGGED_IN

# The REST API under /api/ (extend this table when endpoints are added). A list endpoint is
# never 404: it lists what the token's user may see (the outsider's token is for "other").
API_ROWS = [
    ApiRow("list functions", "GET", "/api/functions", EVERY_TOKEN, NOBODY),
    ApiRow(
        "create function",
        "POST",
        "/api/functions",
        {"owner", "functions_admin", "outsider"},
        LOGGED_IN,
        body={"displayName": "Made by the matrix", "resourceType": "DESTINATION", "code": "{template}"},
    ),
    ApiRow("get function", "GET", "/api/functions/{function}", FN_READERS, NOBODY),
    # A function outside functions_admin_list's list; one of another workspace (the outsider's).
    ApiRow(
        "get listed-out function",
        "GET",
        "/api/functions/{insert_function}",
        {"owner", "functions_admin", "read_only"},
        NOBODY,
    ),
    ApiRow("get foreign function", "GET", "/api/functions/{foreign_function}", {"outsider"}, NOBODY),
    ApiRow(
        "update function", "PATCH", "/api/functions/{function}", FN_ADMINS, FN_READERS, {"description": "x"}
    ),
    # Deleting removes the function's instance too: Source Admin on its source.
    ApiRow("delete function", "DELETE", "/api/functions/{function}", {"owner"}, FN_READERS),
    ApiRow("list versions", "GET", "/api/functions/{function}/versions", FN_READERS, NOBODY),
    ApiRow("get version", "GET", "/api/functions/{function}/versions/{version}", FN_READERS, NOBODY),
    ApiRow(
        "restore version",
        "POST",
        "/api/functions/{function}/versions",
        FN_ADMINS,
        FN_READERS,
        body={"versionId": "{version}"},
    ),
    # Deploying needs Functions Admin on the function and Source Admin on every instance's source.
    ApiRow("deploy function", "POST", "/api/functions/{function}/deploy", {"owner"}, FN_READERS, body={}),
    ApiRow("list sources", "GET", "/api/sources", EVERY_TOKEN, NOBODY),
    ApiRow("get source", "GET", "/api/sources/{source}", SRC_READERS, NOBODY),
    ApiRow("update source", "PATCH", "/api/sources/{source}", SRC_ADMINS, SRC_READERS, {"name": "Renamed"}),
    ApiRow("delete source", "DELETE", "/api/sources/{source}", SRC_ADMINS, SRC_READERS),
    ApiRow("source drops", "GET", "/api/sources/{source}/drops", SRC_READERS, NOBODY),
    ApiRow("list instances", "GET", "/api/functions/{function}/instances", FN_READERS, NOBODY),
    ApiRow("get instance", "GET", "/api/function-instances/{instance}", ACME, NOBODY),
    ApiRow(
        "update instance", "PATCH", "/api/function-instances/{instance}", {"owner"}, ACME, {"enabled": False}
    ),
    ApiRow("delete instance", "DELETE", "/api/function-instances/{instance}", {"owner"}, ACME),
    ApiRow("instance errors", "GET", "/api/function-instances/{instance}/errors", ACME, NOBODY),
    # Rolling back is deploying the previous version: Functions Admin and Source Admin.
    ApiRow(
        "rollback instance", "POST", "/api/function-instances/{instance}/rollback", {"owner"}, ACME, body={}
    ),
    ApiRow("instance metrics", "GET", "/api/function-instances/{instance}/metrics", ACME, NOBODY),
    ApiRow("instance dead letters", "GET", "/api/function-instances/{instance}/dead-letters", ACME, NOBODY),
    # Replaying sends events out through the deployed version: what deploying to it needs.
    ApiRow(
        "replay dead letters",
        "POST",
        "/api/function-instances/{instance}/dead-letters/replay",
        {"owner"},
        ACME,
        body={},
        ok=202,
    ),
    ApiRow(
        "dead letter replays", "GET", "/api/function-instances/{instance}/dead-letters/replays", ACME, NOBODY
    ),
    ApiRow(
        "dead letter replay",
        "GET",
        "/api/function-instances/{instance}/dead-letters/replays/{replay}",
        ACME,
        NOBODY,
    ),
    # A dry-run replay runs code with the instances' settings: deploying rights on them all. The
    # world has no recent events: an allowed replay is accepted and finds nothing to replay.
    ApiRow(
        "replay function",
        "POST",
        "/api/functions/{function}/replays",
        {"owner"},
        FN_READERS,
        body={"code": "{template}", "count": 5},
        ok=202,
    ),
    ApiRow("get replay", "GET", "/api/functions/{function}/replays/{dry_replay}", {"owner"}, FN_READERS),
    # Canary deploys: reading is reading the instance; starting, promoting and aborting is
    # deploying to it. The world's instance runs its function's only version and has no canary,
    # so an allowed request passes the permission check and is refused with 422.
    ApiRow("instance canary", "GET", "/api/function-instances/{instance}/canary", ACME, NOBODY),
    ApiRow(
        "start canary",
        "POST",
        "/api/function-instances/{instance}/canary",
        {"owner"},
        ACME,
        body={"percent": 10, "maxEvents": 100},
        ok=422,
    ),
    ApiRow(
        "promote canary",
        "POST",
        "/api/function-instances/{instance}/canary/promote",
        {"owner"},
        ACME,
        body={},
        ok=422,
    ),
    ApiRow(
        "abort canary",
        "POST",
        "/api/function-instances/{instance}/canary/abort",
        {"owner"},
        ACME,
        body={},
        ok=422,
    ),
    # Connecting needs Functions Admin on the function and Source Admin on the source; a source
    # the persona cannot see is a 404 even when the function is visible.
    ApiRow(
        "connect instance",
        "POST",
        "/api/functions/{function}/instances",
        {"owner"},
        {"read_only"},
        body={"name": "Matrix", "sourceId": "{source}"},
    ),
    ApiRow(
        "connect instance to another source",
        "POST",
        "/api/functions/{function}/instances",
        {"owner"},
        {"read_only"},
        body={"name": "Matrix", "sourceId": "{other_source}"},
    ),
    ApiRow(
        "create source",
        "POST",
        "/api/sources",
        {"owner", "source_admin", "outsider"},
        LOGGED_IN,
        body={"name": "Matrix source"},
    ),
    # A test run executes code with egress: Functions Admin on the function (identify: no fetch).
    ApiRow(
        "preview function",
        "POST",
        "/api/functions/{function}/preview",
        FN_ADMINS,
        FN_READERS,
        body={"payload": {"type": "identify", "userId": "u"}},
    ),
    # Ad-hoc code: Functions Admin on all functions or on at least one.
    ApiRow(
        "preview code",
        "POST",
        "/api/functions/preview",
        FN_ADMINS | {"outsider"},
        LOGGED_IN,
        body={"code": "{template}", "resourceType": "DESTINATION", "payload": {"type": "identify"}},
    ),
    # Saved test cases: as the function (reading lists them; writing and running is admin).
    ApiRow("list test cases", "GET", "/api/functions/{function}/test-cases", FN_READERS, NOBODY),
    ApiRow(
        "create test case",
        "POST",
        "/api/functions/{function}/test-cases",
        FN_ADMINS,
        FN_READERS,
        body={"name": "Matrix API case", "payload": {"type": "identify", "userId": "u"}},
    ),
    ApiRow("get test case", "GET", "/api/functions/{function}/test-cases/{testcase}", FN_READERS, NOBODY),
    ApiRow(
        "update test case",
        "PATCH",
        "/api/functions/{function}/test-cases/{testcase}",
        FN_ADMINS,
        FN_READERS,
        {"name": "Renamed case"},
    ),
    ApiRow(
        "delete test case", "DELETE", "/api/functions/{function}/test-cases/{testcase}", FN_ADMINS, FN_READERS
    ),
    ApiRow(
        "run test cases", "POST", "/api/functions/{function}/test-cases/run", FN_ADMINS, FN_READERS, body={}
    ),
    # A destination's ids are not insert ids (404 for all); the world's insert function is.
    ApiRow(
        "list insert instances", "GET", "/api/insert-function-instances?functionId={function}", NOBODY, NOBODY
    ),
    ApiRow("get insert instance", "GET", "/api/insert-function-instances/{instance}", NOBODY, NOBODY),
    ApiRow(
        "create insert instance",
        "POST",
        "/api/insert-function-instances",
        NOBODY,
        NOBODY,
        body={"functionId": "{function}", "integrationId": "{instance}", "name": "x", "settings": {}},
    ),
    # In front of the instance: Functions Admin on the insert function, Source Admin on the source.
    ApiRow(
        "create insert instance of an insert function",
        "POST",
        "/api/insert-function-instances",
        {"owner"},
        {"functions_admin", "read_only"},
        body={
            "functionId": "{insert_function}",
            "integrationId": "{instance}",
            "name": "Ins",
            "settings": {},
        },
    ),
]
