"""Segment's preinstalled libraries through runtime/sandbox/, the way real functions call
them, against a local vendor server: what the vendor received, the request trace, and the
egress policy (private addresses refused unless FUNCTIONS_EGRESS_ALLOW allows them)."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.sandbox import Sandbox, SandboxRequest
from tests.runtime.vendor import start_vendor

ROOT = Path(__file__).resolve().parents[2]
EVENT = {"type": "track", "event": "Order Completed", "userId": "u1", "properties": {"total": 10}}


@pytest.fixture(scope="module")
def vendor():
    v = start_vendor()
    yield v
    v.close()


@pytest.fixture(scope="module")
def sb():
    s = Sandbox(egress_allow="127.0.0.1")
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _clear(vendor):
    vendor.seen.clear()


def run(sb, vendor, code, settings=None):
    src = code.replace("VENDOR", vendor.url).replace("PORT", str(vendor.port))
    result = sb.run(SandboxRequest(src, "destination", EVENT, settings or {}))
    assert result.status == "success", result.error
    return result


AWS_KINESIS = """
async function onTrack(event, settings) {
  const kinesis = new AWS.Kinesis({ endpoint: 'VENDOR', region: 'us-east-1',
    accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey });
  const r = await kinesis.putRecord({ StreamName: 'events', PartitionKey: event.userId,
    Data: JSON.stringify(event) }).promise();
  return r.SequenceNumber;
}
"""

STRIPE = """
async function onTrack(event, settings) {
  const client = stripe(settings.apiKey, { host: '127.0.0.1', port: PORT, protocol: 'http' });
  const customer = await client.customers.create({ email: 'a@example.com' });
  return customer.id;
}
"""

CASES = {
    "AWS": (
        AWS_KINESIS,
        {"accessKeyId": "AKID", "secretAccessKey": "SECRET"},
        "1",
        lambda q: (
            q.headers["x-amz-target"] == "Kinesis_20131202.PutRecord"
            and q.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
            and json.loads(base64.b64decode(q.json()["Data"])) == EVENT
        ),
    ),
    "stripe": (
        STRIPE,
        {"apiKey": "sk_test_1"},
        "cus_1",
        lambda q: (
            q.path == "/v1/customers"
            and q.headers["authorization"] == "Bearer sk_test_1"
            and q.body == b"email=a%40example.com"
        ),
    ),
    "twilio": (
        """async function onTrack(event, settings) {
          const client = twilio(settings.sid, settings.token);
          client.api.baseUrl = 'VENDOR';
          return (await client.messages.create({ to: '+15555550100', from: '+15555550101', body: event.event })).sid;
        }""",
        {"sid": "AC" + "0" * 32, "token": "t"},
        "SM1",
        lambda q: (
            q.path.endswith("/Messages.json")
            and q.body == b"To=%2B15555550100&From=%2B15555550101&Body=Order%20Completed"
        ),
    ),
    "sendgrid": (
        """async function onTrack(event, settings) {
          sendgrid.client.setApiKey(settings.key);
          sendgrid.client.setDefaultRequest('baseUrl', 'VENDOR');
          sendgrid.mail.setClient(sendgrid.client);
          const [res] = await sendgrid.mail.send({ to: 'to@example.com', from: 'from@example.com', subject: event.event, text: 'x' });
          return res.statusCode;
        }""",
        {"key": "SG.k"},
        202,
        lambda q: q.headers["authorization"] == "Bearer SG.k" and q.json()["subject"] == "Order Completed",
    ),
    "https": (
        """async function onTrack(event) {
          return new Promise((resolve, reject) => {
            const req = __sbNode.require('http').request('VENDOR/hook', { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
              let body = ''; res.on('data', (c) => (body += c)); res.on('end', () => resolve(JSON.parse(body).ok));
            });
            req.on('error', reject);
            req.end(JSON.stringify(event)); // https: same client as http
          });
        }""",
        {},
        True,
        lambda q: q.path == "/hook" and q.json() == EVENT and "user-agent" not in q.headers,
    ),
    "FormData": (
        """async function onTrack(event) {
          const form = new FormData();
          form.append('event', event.event);
          return (await fetch('VENDOR/form', { method: 'POST', body: form })).status;
        }""",
        {},
        200,
        lambda q: (
            q.headers["content-type"].startswith("multipart/form-data;boundary=")
            and b'name="event"\r\n\r\nOrder Completed\r\n' in q.body
        ),
    ),
    "fetchretrylib": (
        """async function onTrack() {
          const f = fetchretrylib.fetchretry(fetch, { retries: 1 });
          return (await f('VENDOR/ping')).status;
        }""",
        {},
        200,
        lambda q: q.path == "/ping",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_library_request_reaches_the_vendor_and_the_trace(sb, vendor, name):
    code, settings, expected, check = CASES[name]
    result = run(sb, vendor, code, settings)
    assert result.returned == expected
    assert len(vendor.seen) == 1 and check(vendor.seen[0]), vendor.seen
    status = {"twilio": 201, "sendgrid": 202}.get(name, 200)
    assert [(t["method"], t["status"]) for t in result.requests] == [(vendor.seen[0].method, status)]


def hs256(header: dict, claims: dict, key: bytes) -> str:
    def part(obj):
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def test_pure_libraries_need_no_network(sb, vendor):
    result = run(
        sb,
        vendor,
        """async function onTrack(event) {
          const token = jsonwebtoken.sign({ sub: event.userId }, 'secret', { algorithm: 'HS256', noTimestamp: true });
          const phone = libphonenumberjslib.libphonenumberjs.parsePhoneNumber('+44 20 7946 0958');
          const packed = zlib.gzipSync(JSON.stringify(event));
          const log = new winstonlib.winston.Logger({ transports: [new winstonlib.winston.transports.Console()] });
          log.warn('done');
          return { token, phone: phone.formatInternational(), back: JSON.parse(zlib.gunzipSync(packed)),
            b64url: Buffer.from([251, 255]).toString('base64url'), oauth: typeof OAuth.OAuth2 };
        }""",
    )
    assert result.returned == {
        "token": hs256({"alg": "HS256", "typ": "JWT"}, {"sub": "u1"}, b"secret"),
        "phone": "+44 20 7946 0958",
        "back": EVENT,
        "b64url": "-_8",
        "oauth": "function",
    }
    # winston 2 writes warn to stdout (console.log level), as under Node.
    assert result.logs[0]["level"] == "log" and result.logs[0]["message"] == "warn: done"
    assert result.requests == [] and vendor.seen == []


def test_sdk_requests_to_private_addresses_are_refused_without_the_allowlist(vendor):
    strict = Sandbox(egress_allow="")
    try:
        src = AWS_KINESIS.replace("VENDOR", vendor.url)
        result = strict.run(
            SandboxRequest(src, "destination", EVENT, {"accessKeyId": "A", "secretAccessKey": "S"})
        )
    finally:
        strict.close()
    assert result.status == "error"
    assert "egress denied" in result.error["message"]
    assert result.requests and all("egress denied" in t["error"] for t in result.requests)
    assert vendor.seen == []


def test_gRPC_google_clients_say_which_module_is_missing(sb, vendor):
    result = sb.run(
        SandboxRequest(
            "async function onTrack() { return new google.cloud.firestore.Firestore() }",
            "destination",
            EVENT,
            {},
        )
    )
    assert result.status == "error" and result.error["type"] == "ModuleNotSupported"
    assert "@google-cloud/firestore" in result.error["message"]


def test_runfunction_runs_a_library_function_unmodified(tmp_path, vendor):
    (tmp_path / "fn.js").write_text(STRIPE.replace("PORT", str(vendor.port)))
    (tmp_path / "event.json").write_text(json.dumps(EVENT))
    (tmp_path / "settings.json").write_text(json.dumps({"apiKey": "sk_test_cli"}))
    proc = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "runfunction",
            str(tmp_path / "fn.js"),
            "--type",
            "destination",
            "--event",
            str(tmp_path / "event.json"),
            "--settings",
            str(tmp_path / "settings.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FUNCTIONS_EGRESS_ALLOW": "127.0.0.1"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "success" and out["returned"] == "cus_1"
    assert [(r["method"], r["status"]) for r in out["requests"]] == [("POST", 200)]
    assert vendor.seen[0].headers["authorization"] == "Bearer sk_test_cli"
