from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from encrypted_model_fields.fields import EncryptedTextField

from workspaces import ids
from workspaces.models import Workspace

from .choices import ResourceType, SettingType

BATCH_MAX_COUNT_DEFAULT = 20
BATCH_MAX_COUNT_LIMIT = 400
TIMEOUT_MS_MIN = 100
TIMEOUT_MS_MAX = 60000

# What an author may change on a saved function, with its Public API name: the admin form, the
# API serializers and catalog.services.function_save all read this one list.
FUNCTION_EDITABLE_FIELDS = {
    "display_name": "displayName",
    "description": "description",
    "logo_url": "logoUrl",
    "code": "code",
    "batch_max_count": "batchMaxCount",
    "timeout_ms": "timeoutMs",
}


class Function(models.Model):
    """A function class in a workspace's catalog: code plus a settings schema.

    `code` is the working copy, always equal to the LATEST version's code; every save creates
    a FunctionVersion. Instances run the version they were last deployed with.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="functions")
    public_id = models.CharField(max_length=40, unique=True, editable=False)
    resource_type = models.CharField(max_length=24, choices=ResourceType.choices)
    display_name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    logo_url = models.URLField(max_length=500, blank=True)
    code = models.TextField()
    batch_max_count = models.PositiveIntegerField(
        default=BATCH_MAX_COUNT_DEFAULT,
        validators=[MinValueValidator(1), MaxValueValidator(BATCH_MAX_COUNT_LIMIT)],
    )
    preview_token = models.CharField(max_length=64, unique=True, default=ids.webhook_token, editable=False)
    timeout_ms = models.PositiveIntegerField(
        default=5000, validators=[MinValueValidator(TIMEOUT_MS_MIN), MaxValueValidator(TIMEOUT_MS_MAX)]
    )
    latest_version = models.ForeignKey(
        "FunctionVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "display_name"], name="catalog_function_unique_display_name"
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def preview_webhook_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/hooks/test/{self.preview_token}"

    def dependent_instances(self):
        """The instances deleting this function removes: its own, and the destination-insert
        instances (of any function) that run in front of them."""
        instance_model = self.instances.model
        return instance_model.objects.filter(models.Q(function=self) | models.Q(destination__function=self))


class SettingDefinition(models.Model):
    """One setting of a function's schema; instances supply its value, read as settings.<name>."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="setting_defs")
    label = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=SettingType.choices, default=SettingType.STRING)
    description = models.TextField(blank=True)
    required = models.BooleanField(default=False)
    sensitive = models.BooleanField(default=False, verbose_name="encrypted")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["function", "name"], name="catalog_setting_unique_name")
        ]

    def __str__(self) -> str:
        return self.label

    def as_schema(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "type": self.type,
            "required": self.required,
            "sensitive": self.sensitive,
        }


class FunctionVersion(models.Model):
    """An immutable snapshot of a function's code and settings schema, made by every save."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="versions")
    public_id = models.CharField(max_length=32, unique=True, default=ids.ksuid, editable=False)
    number = models.PositiveIntegerField()
    code = models.TextField()
    settings_schema = models.JSONField(default=list)
    # The handlers the code defines (onTrack, onBatch, onRequest…), as the sandbox's check
    # found them when the version was saved: delivery asks it whether to call onBatch.
    handlers = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restored_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["function", "number"], name="catalog_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.function} v{self.number}"


class CapturedRequest(models.Model):
    """The last requests POSTed to a function's test webhook, used to fill the editor's test form."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="captures")
    method = models.CharField(max_length=10, default="POST")
    headers = models.JSONField(default=dict)
    query = models.JSONField(default=dict)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"capture for {self.function} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class TestCase(models.Model):
    """A saved test of a function: a named input (an event, a batch of events, or a webhook
    request for source functions), the plain setting values to run it with, and an optional
    expectation that Run all and Save & Deploy check (catalog.testcases).

    `expectation` keys, all optional: status ("success" or "error"), errorType, events (what a
    source function emits), output (an insert function's returned event), requests ([{method,
    url}] the run must make, in order). Encrypted setting values are per user (TestCaseSecret).
    """

    __test__ = False  # not a pytest class, whatever its name

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="test_cases")
    public_id = models.CharField(max_length=32, unique=True, default=ids.ksuid, editable=False)
    name = models.CharField(max_length=120)
    payload = models.JSONField(blank=True)  # {} is an input too (an event with no fields)
    setting_values = models.JSONField(default=dict, blank=True)
    expectation = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["function", "name"], name="catalog_testcase_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class TestCaseSecret(models.Model):
    """One user's values of a test case's encrypted settings, Fernet-encrypted at rest (a JSON
    object). Only that user's runs read them; nobody reads them back in the UI or the API."""

    __test__ = False

    test_case = models.ForeignKey(TestCase, on_delete=models.CASCADE, related_name="secrets")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    encrypted_settings = EncryptedTextField(default="{}", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["test_case", "user"], name="catalog_testcasesecret_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.test_case} ({self.user})"
