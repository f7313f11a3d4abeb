"""The Save & Deploy dialog's endpoint: what deploying the editor's code changes for an instance.

Registered by FunctionAdmin.get_urls() behind admin_site.admin_view (login + CSRF).
"""

from __future__ import annotations

import json

from django.http import Http404, JsonResponse
from django.views.decorators.http import require_POST

from .admin_views import function_visible_or_404, unified_rows
from .selectors import code_diff, version_get

MAX_DIFF_BODY = 1024 * 1024


@require_POST
def deploy_diff(request, object_id):
    """The code diff from a version (`from`, what an instance runs) to `code` (the editor's).

    Body: {from: version public id or number, code}. Needs read access to the function (404
    otherwise); it writes nothing.
    """
    function = function_visible_or_404(request, object_id)
    if len(request.body) > MAX_DIFF_BODY:
        return JsonResponse({"error": "The code is too large."}, status=413)
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        return JsonResponse({"error": "Send {from, code}."}, status=400)
    try:
        old = version_get(function=function, version_id=str(data.get("from") or ""))
    except (function.versions.model.DoesNotExist, ValueError):
        raise Http404("No such version.")
    rows = unified_rows(code_diff(old=old, code=data["code"].replace("\r\n", "\n")))
    return JsonResponse(
        {
            "from": {"id": old.public_id, "number": old.number},
            "rows": rows,
            "added": sum(1 for r in rows if r["kind"] == "add"),
            "removed": sum(1 for r in rows if r["kind"] == "del"),
        }
    )
