"""Helpers for tests/test_permission_matrix.py: the expectation tables, the objects every admin
view is tried on, and the "nothing changed" snapshot.

The tables are written from the product rules (docs/access-control.md), not derived from
workspaces.permissions, so a wrong rule in that module makes the matrix fail.

Personas (tests/conftest.py): owner, functions_admin (all functions), functions_admin_list
(the `function` fixture only), read_only (functions + sources read-only), source_admin
(all sources), outsider (owner of another workspace), anonymous.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps

PERSONAS = [
    "owner",
    "functions_admin",
    "functions_admin_list",
    "read_only",
    "source_admin",
    "outsider",
    "anonymous",
]
ACME = {"owner", "functions_admin", "functions_admin_list", "read_only", "source_admin"}
OWNERS_ANYWHERE = {"owner", "outsider"}  # the outsider owns its own workspace
NOBODY: set[str] = set()


@dataclass(frozen=True)
class AdminRule:
    """Who may do what with one admin's object in acme (personas by name).

    changelist: may open the list (others get 403); see: the acme object is in scope (others
    get 404 on object views); change/delete: the verb is allowed (in scope but not: 403);
    add: may open the add form.
    """

    changelist: set[str]
    see: set[str]
    change: set[str] = field(default_factory=set)
    delete: set[str] = field(default_factory=set)
    add: set[str] = field(default_factory=set)


LOGGED_IN = ACME | {"outsider"}

# One row per registered admin; a new admin without a row fails test_every_admin_has_a_rule.
ADMIN_RULES = {
    "workspaces.workspace": AdminRule(changelist=LOGGED_IN, see=ACME, change={"owner"}),
    "workspaces.source": AdminRule(
        changelist=LOGGED_IN,
        see={"owner", "read_only", "source_admin"},
        change={"owner", "source_admin"},
        delete={"owner", "source_admin"},
        add={"owner", "source_admin", "outsider"},
    ),
    "catalog.function": AdminRule(
        changelist=LOGGED_IN,
        see={"owner", "functions_admin", "functions_admin_list", "read_only"},
        change={"owner", "functions_admin", "functions_admin_list"},
        delete={"owner", "functions_admin", "functions_admin_list"},
        add={"owner", "functions_admin", "outsider"},
    ),
    # Configuring an instance is Source Admin on its source (and reading its function).
    "runtime.functioninstance": AdminRule(
        changelist=LOGGED_IN,
        see=ACME,
        change={"owner"},
        delete={"owner"},
        add={"owner", "outsider"},
    ),
    "runtime.deployment": AdminRule(changelist=LOGGED_IN, see=ACME),
    "runtime.errorlog": AdminRule(changelist=LOGGED_IN, see=ACME),
    "runtime.ingestdrop": AdminRule(changelist=LOGGED_IN, see={"owner", "read_only", "source_admin"}),
    "workspaces.auditevent": AdminRule(changelist=OWNERS_ANYWHERE, see={"owner"}),
    "workspaces.accesstoken": AdminRule(
        changelist=OWNERS_ANYWHERE, see={"owner"}, change={"owner"}, delete={"owner"}, add=OWNERS_ANYWHERE
    ),
    # Django's own user and group admins: superusers only.
    "auth.user": AdminRule(changelist=NOBODY, see=NOBODY),
    "auth.group": AdminRule(changelist=NOBODY, see=NOBODY),
}


@dataclass(frozen=True)
class CustomViewRule:
    """A custom admin view: the one method it answers (the other gets 405), who may use it, who
    sees its object (in scope but not allowed: 403; out of scope: 404, or 403 with no object)."""

    args: str  # "workspace", "function", "version" or "" (no object in the URL)
    methods: tuple[str, ...]
    allowed: set[str]
    see: set[str]
    ok: int = 200  # an allowed POST (an allowed GET is 200)
    data: dict | None = None  # form data, or JSON for `json=True`
    json: bool = False
    object_in_body: bool = False

    def expected(self, persona: str, method: str) -> int:
        if persona == "anonymous":
            return 302
        if method not in self.methods:
            return 405
        if persona in self.allowed:
            return self.ok if method == "POST" else 200
        scoped = bool(self.args) or self.object_in_body
        return 403 if persona in self.see or not scoped else 404


FN_READERS = {"owner", "functions_admin", "functions_admin_list", "read_only"}
FN_ADMINS = {"owner", "functions_admin", "functions_admin_list"}
FN_CREATORS = {"owner", "functions_admin", "outsider"}

# Custom admin views by URL name; a new one without a row fails test_every_custom_admin_view_has_a_rule.
CUSTOM_VIEW_RULES = {
    "workspaces_workspace_members": CustomViewRule(
        "workspace",
        ("GET", "POST"),
        {"owner"},
        ACME,
        ok=302,
        data={"member-username": "outsider", "add_member": "1"},
    ),
    "catalog_function_new": CustomViewRule("", ("GET",), FN_CREATORS, LOGGED_IN),
    "catalog_function_versions": CustomViewRule("function", ("GET",), FN_READERS, NOBODY),
    "catalog_function_deployments": CustomViewRule("function", ("GET",), FN_READERS, NOBODY),
    # Captured webhook requests carry third-party data: Functions Admin only.
    "catalog_function_capture": CustomViewRule("function", ("GET",), FN_ADMINS, FN_READERS),
    # Recent events of a source: reading the function (and, with ?source=, the source); without
    # ?source= it lists the readable sources of the function's workspace.
    "catalog_function_samples": CustomViewRule("function", ("GET",), FN_READERS, NOBODY),
    "catalog_function_restore": CustomViewRule("version", ("POST",), FN_ADMINS, FN_READERS, ok=302, data={}),
    # A test run executes code with egress: Functions Admin on the function.
    "catalog_function_test": CustomViewRule(
        "",
        ("POST",),
        FN_ADMINS,
        FN_READERS,
        data={"function": "{function}", "code": "{template}", "payload": {"type": "track"}, "settings": {}},
        json=True,
        object_in_body=True,
    ),
}


def expected_object_status(rule: AdminRule, persona: str, verb: str) -> int:
    """Status of GET change/history/delete pages or a POST to change/delete, for `verb`."""
    if persona == "anonymous":
        return 302
    if persona not in rule.see:
        # Superuser-only admins refuse before looking the object up.
        return 403 if not rule.changelist else 404
    if verb in ("view", "history"):
        return 200
    allowed = rule.change if verb == "change" else rule.delete
    return 200 if persona in allowed else 403


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
    ApiRow(
        "update function", "PATCH", "/api/functions/{function}", FN_ADMINS, FN_READERS, {"description": "x"}
    ),
    ApiRow("delete function", "DELETE", "/api/functions/{function}", FN_ADMINS, FN_READERS),
    ApiRow("list versions", "GET", "/api/functions/{function}/versions", FN_READERS, NOBODY),
    ApiRow("get version", "GET", "/api/functions/{function}/versions/{version}", FN_READERS, NOBODY),
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
    ApiRow("instance metrics", "GET", "/api/function-instances/{instance}/metrics", ACME, NOBODY),
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
    # The world has no insert function: a destination's ids are not insert ids (404 for all).
    # tests/api/test_api_permissions.py covers insert instances persona by persona.
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
]

SNAPSHOT_MODELS = [
    "auth.user",
    "auth.group",
    "workspaces.workspace",
    "workspaces.membership",
    "workspaces.source",
    "workspaces.accesstoken",
    "catalog.function",
    "catalog.functionversion",
    "catalog.settingdefinition",
    "runtime.functioninstance",
    "runtime.deployment",
    "runtime.errorlog",
    "guardian.userobjectpermission",
    "guardian.groupobjectpermission",
    "workspaces.auditevent",
]
# Bookkeeping a read also writes: logging in and using a token.
VOLATILE_FIELDS = {"last_login", "last_used_at"}


def snapshot() -> dict:
    """Every row of the tables a write could touch (counts and updated_at included)."""
    rows = {}
    for label in SNAPSHOT_MODELS:
        model = apps.get_model(label)
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE_FIELDS]
        rows[label] = sorted(model.objects.values_list(*names), key=lambda row: row[0])
    return rows


def changed_tables(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]
