"""The OpenAPI schema validates without warnings and Swagger UI is served offline."""

import io

from django.core.management import call_command


def test_spectacular_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target), stdout=io.StringIO())
    text = target.read_text()
    assert "/api/functions/{functionId}/versions/{versionId}:" in text
    assert "bearer" in text


def test_schema_and_swagger_ui_are_served_without_cdn(client):
    schema = client.get("/api/schema?format=json")
    assert schema.status_code == 200
    assert schema.json()["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
