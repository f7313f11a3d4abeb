"""Public ingest endpoints: source webhooks (/hooks/...) and the Tracking API (/v1/...)."""

urlpatterns: list = []
