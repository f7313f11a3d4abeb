from django.db import models


class DeploymentStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"
    SUPERSEDED = "SUPERSEDED", "Superseded"


class ErrorCategory(models.TextChoices):
    """Segment's error categories as shown in the Errors / Event Delivery tabs."""

    BAD_REQUEST = "bad_request", "Bad Request"
    INVALID_SETTINGS = "invalid_settings", "Invalid Settings"
    MESSAGE_REJECTED = "message_rejected", "Message Rejected"
    UNSUPPORTED_EVENT_TYPE = "unsupported_event_type", "Unsupported Event Type"
    RETRY = "retry", "Retry"
    TIMEOUT = "gateway_timeout", "Timeout"
    MEMORY = "memory_limit", "Memory Limit"
    INTERNAL = "internal", "Internal"


class PipelineStage(models.TextChoices):
    """A pipeline stage's queue name (docs/pipeline.md): what a dead letter's `event` holds."""

    SOURCE = "src", "Source function (a webhook request)"
    ROUTE = "route", "Routing (a Tracking API message)"
    DESTINATION = "dst", "Destination (an event)"


class InspectedSender(models.TextChoices):
    """Who sent a request the request inspector recorded."""

    FUNCTION = "function", "Function (deployed instance)"
    TEST = "test", "Test run (editor or API)"
    HTTP = "http", "HTTP client"


class ReplayStatus(models.TextChoices):
    """Where a bulk replay of dead letters stands."""

    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Done"
    FAILED = "FAILED", "Failed"
