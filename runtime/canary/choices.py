from django.db import models


class CanaryKind(models.TextChoices):
    CANARY = "CANARY", "Canary"
    WATCH = "WATCH", "Watch after deploy"


class CanaryStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    PROMOTED = "PROMOTED", "Promoted"
    ABORTED = "ABORTED", "Aborted"
    ROLLED_BACK = "ROLLED_BACK", "Rolled back"
    ENDED = "ENDED", "Ended"  # a watch that passed, or a canary that ran out without a verdict
    SUPERSEDED = "SUPERSEDED", "Superseded"


class CanaryArm(models.TextChoices):
    NEW = "new", "New version"
    BASE = "base", "Current version"
