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
from html.parser import HTMLParser

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
    # Deleting a function also removes its instances: Source Admin on each instance's source too.
    "catalog.function": AdminRule(
        changelist=LOGGED_IN,
        see={"owner", "functions_admin", "functions_admin_list", "read_only"},
        change={"owner", "functions_admin", "functions_admin_list"},
        delete={"owner"},
        add={"owner", "functions_admin", "outsider"},
    ),
    # Saved test cases: read with the function, deleted by its Functions Admins; written in
    # the editor only.
    "catalog.testcase": AdminRule(
        changelist=LOGGED_IN,
        see={"owner", "functions_admin", "functions_admin_list", "read_only"},
        delete={"owner", "functions_admin", "functions_admin_list"},
    ),
    # Configuring an instance is Source Admin on its source (and reading its function). Adding
    # is connecting: Functions Admin on a function plus Source Admin on a source (or, for a
    # source function, on all sources); the functions admins administer no source.
    "runtime.functioninstance": AdminRule(
        changelist=LOGGED_IN,
        see=ACME,
        change={"owner"},
        delete={"owner"},
        add={"owner", "outsider"},
    ),
    "runtime.deployment": AdminRule(changelist=LOGGED_IN, see=ACME),
    "runtime.errorlog": AdminRule(changelist=LOGGED_IN, see=ACME),
    # Dead letters and their replays: read like the error log; nobody edits them (replaying is
    # an action, tests/deadletters).
    "runtime.deadletter": AdminRule(changelist=LOGGED_IN, see=ACME),
    "runtime.deadletterreplay": AdminRule(changelist=LOGGED_IN, see=ACME),
    "runtime.ingestdrop": AdminRule(changelist=LOGGED_IN, see={"owner", "read_only", "source_admin"}),
    # A workspace's request inspector: Functions Read-only or Admin on all functions (its
    # requests come from any function), or Owner. Kept requests are a record: nobody edits them.
    "runtime.requestinspector": AdminRule(
        changelist=LOGGED_IN, see={"owner", "functions_admin", "read_only"}
    ),
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

    args: str  # "workspace", "function", "version", "instance", "source", "testcase" or "" (no object in the URL)
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
    # The Save & Deploy dialog's diff (running version -> the editor's code): reading the function.
    "catalog_function_deploy_diff": CustomViewRule(
        "function", ("POST",), FN_READERS, NOBODY, data={"from": "1", "code": "// new"}, json=True
    ),
    # Roll an instance back: what deploying to it needs (Functions Admin + Source Admin on its source).
    "runtime_functioninstance_rollback": CustomViewRule(
        "instance", ("POST",), {"owner"}, ACME, ok=302, data={}
    ),
    # Canary deploys (docs/safe-change.md): the figures are the instance's; starting, promoting
    # and aborting is deploying to it. The world's instance has no other version and no canary:
    # an allowed POST is answered with the refusal message and a redirect back to the page.
    "runtime_functioninstance_canary": CustomViewRule("instance", ("GET",), ACME, NOBODY),
    "runtime_functioninstance_canary_start": CustomViewRule(
        "instance", ("POST",), {"owner"}, ACME, ok=302, data={"canary-percent": "10"}
    ),
    "runtime_functioninstance_canary_promote": CustomViewRule(
        "instance", ("POST",), {"owner"}, ACME, ok=302, data={}
    ),
    "runtime_functioninstance_canary_abort": CustomViewRule(
        "instance", ("POST",), {"owner"}, ACME, ok=302, data={}
    ),
    # The editor's dry-run replay runs code with the instances' settings: deploying rights.
    "runtime_functioninstance_replay_start": CustomViewRule(
        "function", ("POST",), {"owner"}, FN_READERS, data={"code": "{template}", "count": 5}, json=True
    ),
    "runtime_functioninstance_replay": CustomViewRule("function", ("GET",), {"owner"}, FN_READERS),
    # Captured webhook requests carry third-party data: Functions Admin only.
    "catalog_function_capture": CustomViewRule("function", ("GET",), FN_ADMINS, FN_READERS),
    # Recent events of a source: reading the function (and, with ?source=, the source); without
    # ?source= it lists the readable sources of the function's workspace.
    "catalog_function_samples": CustomViewRule("function", ("GET",), FN_READERS, NOBODY),
    "catalog_function_restore": CustomViewRule("version", ("POST",), FN_ADMINS, FN_READERS, ok=302, data={}),
    # The request inspector's live list: as its page (members of the workspace see 403).
    "runtime_requestinspector_requests": CustomViewRule(
        "workspace", ("GET",), {"owner", "functions_admin", "read_only"}, ACME
    ),
    # The source debugger (page, live JSON) reads a source's traffic: read access to the source
    # (the webhook URL and headers inside are shown to Source Admins only; tests/admin_ui).
    "runtime_source_debugger": CustomViewRule(
        "source", ("GET",), {"owner", "read_only", "source_admin"}, NOBODY
    ),
    "runtime_source_debugger_data": CustomViewRule(
        "source", ("GET",), {"owner", "read_only", "source_admin"}, NOBODY
    ),
    # The editor's list of sources to load traffic from: reading the function (each source's
    # traffic is then asked for with the debugger's own rule).
    "runtime_source_debugger_sources": CustomViewRule("function", ("GET",), FN_READERS, NOBODY),
    # Saved test cases: reading the function lists them; saving, deleting and running them
    # (code with egress) is Functions Admin on the function.
    "catalog_function_testcases": CustomViewRule("function", ("GET",), FN_READERS, NOBODY),
    "catalog_function_testcase_save": CustomViewRule(
        "function", ("POST",), FN_ADMINS, FN_READERS, data={"name": "Matrix case", "payload": {}}, json=True
    ),
    "catalog_function_testcase_run": CustomViewRule(
        "function", ("POST",), FN_ADMINS, FN_READERS, data={}, json=True
    ),
    "catalog_function_testcase_delete": CustomViewRule(
        "testcase", ("POST",), FN_ADMINS, FN_READERS, data={}, json=True
    ),
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


@dataclass(frozen=True)
class FormCase:
    """A POST of an admin add or change form, filled as the browser fills it for the owner, with
    `data` on top (placeholders in braces name objects of the world). `allowed` personas' write
    happens; for everyone else nothing changes, and the answer is what the form page answers
    them (302 anonymous, 403 refused, 404 out of scope) or, when they may open the form,
    `refused`: 200 when the form shows the refusal (a choice it does not offer them)."""

    name: str
    label: str
    view: str  # "add" or "change"
    data: dict
    allowed: set[str]
    query: str = ""  # the add form's query string (e.g. the function to connect)
    refused: int = 200

    def expected(self, persona: str) -> int:
        if persona == "anonymous":
            return 302
        if persona in self.allowed:
            return 302
        rule = ADMIN_RULES[self.label]
        if self.view == "add":
            opens = 200 if persona in rule.add else 403
        else:
            opens = expected_object_status(rule, persona, "change")
        return self.refused if opens == 200 else opens


FORM_CASES = [
    FormCase(
        "create source",
        "workspaces.source",
        "add",
        {"workspace": "{workspace}", "name": "Matrix source", "kind": "TRACKING_API"},
        {"owner", "source_admin"},
    ),
    FormCase("rename source", "workspaces.source", "change", {"name": "Renamed"}, {"owner", "source_admin"}),
    FormCase(
        "create function",
        "catalog.function",
        "add",
        {"workspace": "{workspace}", "display_name": "Matrix function", "code": "{template}"},
        {"owner", "functions_admin"},
        query="?resource_type=DESTINATION",
    ),
    FormCase("save function", "catalog.function", "change", {"description": "saved"}, FN_ADMINS),
    # Save & Deploy to the function's instance needs Source Admin on its source as well.
    FormCase(
        "save and deploy",
        "catalog.function",
        "change",
        {"description": "deployed", "_deploy": "1", "deploy_target": "all"},
        {"owner"},
        refused=403,
    ),
    FormCase(
        "connect destination",
        "runtime.functioninstance",
        "add",
        {"function": "{function}", "name": "Matrix", "source": "{source}"},
        {"owner"},
        query="?function={function}",
    ),
    # A source function's instance creates its own source: Source Admin on all sources.
    FormCase(
        "connect source function",
        "runtime.functioninstance",
        "add",
        {"function": "{source_function}", "name": "Matrix hook"},
        {"owner"},
        query="?function={source_function}",
    ),
    FormCase(
        "connect insert function",
        "runtime.functioninstance",
        "add",
        {"function": "{insert_function}", "name": "Matrix insert", "destination": "{instance}"},
        {"owner"},
        query="?function={insert_function}",
    ),
    FormCase("configure instance", "runtime.functioninstance", "change", {"name": "Renamed"}, {"owner"}),
    FormCase("rename workspace", "workspaces.workspace", "change", {"name": "Renamed"}, {"owner"}),
    FormCase(
        "create token",
        "workspaces.accesstoken",
        "add",
        {"workspace": "{workspace}", "user": "{owner}", "name": "Matrix token"},
        {"owner"},
    ),
]


@dataclass(frozen=True)
class ActionCase:
    """A changelist action on the world's object: `allowed` personas' action happens; for
    everyone else nothing changes (403 without the changelist, else Django's redirect back,
    since the object is not in what they may act on, or a 200 page refusing the delete)."""

    label: str
    action: str
    allowed: set[str]


ACTION_CASES = [
    ActionCase("workspaces.accesstoken", "revoke_tokens", {"owner"}),
    ActionCase("runtime.functioninstance", "rollback_selected", {"owner"}),
    *(ActionCase(label, "delete_selected", rule.delete) for label, rule in ADMIN_RULES.items()),
]


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
    "catalog.testcase",
    "catalog.testcasesecret",
    "runtime.functioninstance",
    "runtime.deployment",
    "runtime.errorlog",
    "runtime.deadletter",
    "runtime.deadletterreplay",
    "runtime.inspectedrequest",
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


class _FormFields(HTMLParser):
    """The name/value pairs a browser submits from a page's forms (buttons aside)."""

    def __init__(self):
        super().__init__()
        self.pairs: list[tuple[str, str]] = []
        self._select: dict | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if (
            tag == "input"
            and name
            and attrs.get("type", "text") not in ("submit", "button", "image", "reset")
        ):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                self.pairs.append((name, attrs.get("value", "on" if attrs.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = {"name": name, "multiple": "multiple" in attrs, "chosen": [], "first": None}
        elif tag == "option" and self._select is not None:
            value = attrs.get("value", "")
            self._select["first"] = value if self._select["first"] is None else self._select["first"]
            if "selected" in attrs:
                self._select["chosen"].append(value)
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            chosen = self._select["chosen"] or ([] if self._select["multiple"] else [self._select["first"]])
            self.pairs += [(self._select["name"], value) for value in chosen if value is not None]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.pairs.append((self._textarea[0], self._textarea[1].removeprefix("\n")))
            self._textarea = None


def form_fields(html: str) -> dict:
    """What a browser would post from `html`, as test-client data (repeated names as lists)."""
    parser = _FormFields()
    parser.feed(html)
    data: dict = {}
    for name, value in parser.pairs:
        if name in data:
            data[name] = [*data[name], value] if isinstance(data[name], list) else [data[name], value]
        else:
            data[name] = value
    return data
