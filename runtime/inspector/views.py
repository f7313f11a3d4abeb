"""The request inspector's HTTP endpoint: any method on `/inspect/<token>[/<path>]` is kept."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from functions_platform import throttle

from ..models import RequestInspector
from .services import ANSWER, inspector_record

MAX_BODY_BYTES = 512 * 1024


@csrf_exempt  # called by any HTTP client; the unguessable token is the credential
def inspect(request, token: str, rest: str = ""):
    """Keep the request (secrets masked; the newest INSPECTOR_KEEP per workspace) and answer 200.

    An unknown token answers 404 and counts as a guess against the client address; a body
    over 512 KiB answers 413 and is not kept.
    """
    try:
        throttle.check(request)
        inspector = RequestInspector.objects.filter(token=token).first()
        if inspector is None:
            throttle.failure(request)
            return JsonResponse({"ok": False, "error": "No such request inspector."}, status=404)
    except throttle.Throttled as exc:
        response = JsonResponse({"ok": False, "error": str(exc)}, status=429)
        response["Retry-After"] = str(exc.wait)
        return response
    declared = request.META.get("CONTENT_LENGTH") or ""
    body = b"" if declared.isdigit() and int(declared) > MAX_BODY_BYTES else request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES or (declared.isdigit() and int(declared) > MAX_BODY_BYTES):
        return JsonResponse({"ok": False, "error": "Body over 512 KiB: not kept."}, status=413)
    inspector_record(
        inspector=inspector,
        method=request.method,
        url=f"{settings.PUBLIC_BASE_URL}{request.get_full_path()}",
        headers=list(request.headers.items()),
        body=body,
    )
    return JsonResponse(ANSWER)
