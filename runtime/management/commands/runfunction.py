"""Run a function once, as the editor's Run button does, and print the result as JSON."""

import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from runtime.sandbox import SandboxRequest
from runtime.sandbox.django import sandbox

TYPES = ["source", "destination", "insert_destination", "insert_source"]
OUTPUT_KEYS = ["status", "error", "returned", "events", "objects", "logs", "requests", "duration_ms"]
USAGE_EXIT = 2


class UsageError(Exception):
    pass


class Command(BaseCommand):
    help = (
        "Run FILE.js once in a fresh sandbox isolate and print ONE JSON object with the keys "
        "status, error, returned, events, objects, logs, requests, duration_ms. Exit 0 when the "
        "function ran (succeeded or threw), 2 for usage or file errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.js")
        parser.add_argument("--type", required=True, choices=TYPES, dest="kind")
        parser.add_argument(
            "--event", metavar="FILE.json", help="An event object, or a JSON array to run onBatch."
        )
        parser.add_argument(
            "--request",
            metavar="FILE.json",
            help='{"method", "headers", "query", "body"} for source functions.',
        )
        # manage.py passes the documented `--settings FILE.json` on under this name, since
        # Django itself claims --settings for the settings module.
        parser.add_argument(
            "--function-settings",
            metavar="FILE.json",
            dest="values_file",
            help="Setting values (an object); `--settings FILE.json` also works.",
        )
        parser.add_argument("--timeout-ms", type=int, default=settings.FUNCTIONS_DEFAULT_TIMEOUT_MS)

    def run_from_argv(self, argv):
        try:
            super().run_from_argv(argv)
        except UsageError as exc:
            sys.stderr.write(f"runfunction: {exc}\n")
            sys.exit(USAGE_EXIT)

    def handle(self, *args, file, kind, event, request, values_file, timeout_ms, **options):
        code = _read_text(file)
        payload = self._payload(kind, event, request)
        values = _read_json(values_file, "--settings") if values_file else {}
        if not isinstance(values, dict):
            raise UsageError("--settings must hold a JSON object")
        if not 1 <= timeout_ms <= 60000:
            raise UsageError("--timeout-ms must be between 1 and 60000")
        result = sandbox().run(
            SandboxRequest(
                code=code,
                kind=kind,
                payload=payload,
                settings=values,
                timeout_ms=timeout_ms,
            )
        )
        self.stdout.write(json.dumps(_output(result.to_dict())))

    def _payload(self, kind, event, request):
        if kind == "source":
            if event:
                raise UsageError("source functions take --request, not --event")
            raw = _read_json(request, "--request") if request else {}
            if not isinstance(raw, dict):
                raise UsageError("--request must hold a JSON object")
            unknown = set(raw) - {"method", "headers", "query", "body", "url"}
            if unknown:
                raise UsageError(f"--request has unknown keys: {', '.join(sorted(unknown))}")
            return {
                "method": raw.get("method", "POST"),
                "headers": raw.get("headers") or {},
                "query": raw.get("query") or {},
                "body": raw.get("body", {}),
                **({"url": raw["url"]} if raw.get("url") else {}),
            }
        if request:
            raise UsageError(f"{kind} functions take --event, not --request")
        if not event:
            raise UsageError(f"{kind} functions need --event FILE.json")
        payload = _read_json(event, "--event")
        if not isinstance(payload, dict | list):
            raise UsageError("--event must hold a JSON object or array")
        return payload


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc


def _read_json(path: str, option: str):
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} {path} is not valid JSON: {exc}") from exc


def _output(result: dict) -> dict:
    out = {key: result.get(key) for key in OUTPUT_KEYS}
    if out["error"]:
        out["error"] = {"type": out["error"].get("type"), "message": out["error"].get("message")}
    out["requests"] = [
        {k: r.get(k) for k in ("method", "url", "status", "duration_ms")} for r in out["requests"] or []
    ]
    return out
