from django.db import models


class ReplayStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


class ReplayVerdict(models.TextChoices):
    IDENTICAL = "identical", "Identical"
    DIFFERS = "differs", "Differs"
    NOW_FAILS = "now_fails", "Now fails"
    NOW_PASSES = "now_passes", "Now passes"
    SKIPPED = "skipped", "Not run (time budget)"
