"""The per-function test webhook: captures requests for the editor's source test pane."""

from __future__ import annotations

from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from functions_platform import throttle

from .models import Function
from .services import capture_store

MAX_CAPTURE_BYTES = 512 * 1024


@csrf_exempt  # called by third-party senders, authenticated by the unguessable token
def test_webhook(request, token: str):
    """POST /hooks/test/<token>: store the request (the last 10 are kept) and answer 200."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        throttle.check(request)
        function = Function.objects.filter(preview_token=token).first()
        if function is None:
            throttle.failure(request)  # a guessed token counts against the address
            raise Http404("No such test webhook.")
    except throttle.Throttled as exc:
        response = JsonResponse({"error": str(exc)}, status=429)
        response["Retry-After"] = str(exc.wait)
        return response
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > MAX_CAPTURE_BYTES or len(request.body) > MAX_CAPTURE_BYTES:
        return JsonResponse({"error": "Payload too large (512 KiB at most)."}, status=413)
    capture_store(
        function=function,
        method=request.method,
        headers=_headers(request),
        query={key: request.GET.getlist(key) for key in request.GET},
        body=request.body.decode("utf-8", errors="replace"),
    )
    return JsonResponse({"ok": True})


def _headers(request) -> dict:
    # Django keeps headers in META; request.headers gives them back with their HTTP names.
    return {name: value for name, value in request.headers.items() if name.lower() != "cookie"}
