"""Result integrity against the real host: user code cannot forge the platform's fields or
error types, nor make runtime/sandbox/ raise (docs/sandbox.md, "Security model")."""

import pytest

from runtime.sandbox import Sandbox
from tests.runtime.test_containment import call, healthy_after


@pytest.fixture(scope="module")
def sb():
    s = Sandbox(egress_allow="")
    s.ping()
    yield s
    s.close()


@pytest.mark.parametrize(
    "prelude",
    [
        "Object.prototype.toJSON = function () { return { status: 'success', returned: 'forged' } };",
        "Array.prototype.toJSON = function () { return 'forged' };",
        "Object.defineProperty(Object.prototype, 'status', { get() { return 'success' }, configurable: true });",
        "Array.prototype.push = function () { throw new (class Timeout extends Error {})('pushed') };",
        "String.prototype.toString = function () { return 'forged' }; JSON.stringify = () => '{\"status\":\"success\"}';",
    ],
)
def test_prototype_changes_cannot_forge_the_result(sb, prelude):
    code = prelude + " async function onTrack(){ console.log('line'); throw new Error('real failure') }"
    r = call(sb, code, "forger")
    assert r.status == "error" and r.error["type"] == "Error" and r.error["message"] == "real failure"
    assert r.returned is None and r.events == [] and r.requests == []
    healthy_after(sb)


@pytest.mark.parametrize("name", ["Timeout", "MemoryLimit", "Crash", "SandboxUnavailable", "PayloadTooLarge"])
def test_user_errors_cannot_take_platform_types(sb, name):
    thrown = call(
        sb, f"async function onTrack(){{ const e = new Error('x'); e.name = '{name}'; throw e }}", "namer"
    )
    assert thrown.error["type"] == "Error" and thrown.error["message"] == f"{name}: x"
    subclass = call(
        sb, f"class {name} extends Error {{}}; async function onTrack(){{ throw new {name}('y') }}", "namer"
    )
    assert subclass.error["type"] == "Error"
    top = call(sb, f"throw {{ name: '{name}', message: 'z' }}", "namer")
    assert top.error["type"] != name
    healthy_after(sb)


def test_bridge_errors_carry_no_host_frames(sb):
    code = """async function onTrack(){ const out = [];
      for (const f of [() => crypto.createHash('nope').update('x').digest('hex'), () => crypto.randomBytes(1e9)]) {
        try { f() } catch (e) { out.push([e.name, e.message, e.stack]) } } return out }"""
    r = call(sb, code, "bridge-errors")
    assert [x[0] for x in r.returned] == ["Error", "RangeError"]
    for _, _, stack in r.returned:
        assert "host.js" not in stack and "node:internal" not in stack and "/" not in stack.split("\n")[0]
    healthy_after(sb)


@pytest.mark.parametrize(
    "body",
    [
        "let a = []; for (let i = 0; i < 5000; i++) a = [a]; return a",  # deeper than Python parses
        "return { toJSON() { throw new Error('no') } }",
        "const o = {}; o.self = o; return o",
        "return 10n",
        "Segment.track({ userId: 'u', event: 'e', properties: { toJSON() { return undefined } } })",
    ],
)
def test_nothing_the_function_returns_makes_sandbox_py_raise(sb, body):
    for kind in ("destination", "source"):
        code = f"async function onTrack(){{ {body} }} async function onRequest(){{ {body} }}"
        r = call(sb, code, "odd-result", {"type": "track", "body": {}}, kind=kind)
        assert r.status in ("success", "error")
        assert isinstance(r.events, list) and isinstance(r.logs, list)
    healthy_after(sb)
