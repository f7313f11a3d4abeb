"""Reads for the function catalog: versions and their diffs, test cases.

The version history's LATEST / DEPLOYED labels read instances: runtime.selectors.function_versions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from workspaces.ids import int_param

from .models import Function, FunctionVersion, TestCase

# FunctionVersion.number is an integer column (32 bits on PostgreSQL).
MAX_VERSION_NUMBER = 2**31 - 1


def version_get(*, function: Function, version_id: str) -> FunctionVersion:
    """One version of `function` by public id (or number); raises FunctionVersion.DoesNotExist."""
    versions = function.versions.all()
    number = int_param(version_id, max_value=MAX_VERSION_NUMBER)
    if number is not None:
        return versions.get(number=number)
    if str(version_id).isdigit():  # too large, or digits that are not ASCII: no such version
        raise FunctionVersion.DoesNotExist
    return versions.get(public_id=version_id)


@dataclass(frozen=True)
class VersionDiff:
    """Differences between two versions: a unified diff of the code and a settings-schema diff."""

    old: FunctionVersion
    new: FunctionVersion
    code: str
    settings_added: list[dict] = field(default_factory=list)
    settings_removed: list[dict] = field(default_factory=list)
    settings_changed: list[dict] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.code or self.settings_added or self.settings_removed or self.settings_changed)

    def as_dict(self) -> dict:
        return {
            "from": self.old.public_id,
            "to": self.new.public_id,
            "code": self.code,
            "settings": {
                "added": self.settings_added,
                "removed": self.settings_removed,
                "changed": self.settings_changed,
            },
        }


def version_diff(*, old: FunctionVersion, new: FunctionVersion) -> VersionDiff:
    """Diff any two versions of one function (in either order)."""
    if old.function_id != new.function_id:
        raise ValueError("Versions of different functions cannot be compared.")
    code = "".join(
        difflib.unified_diff(
            _lines(old.code), _lines(new.code), fromfile=f"v{old.number}", tofile=f"v{new.number}"
        )
    )
    added, removed, changed = settings_schema_diff(old.settings_schema, new.settings_schema)
    return VersionDiff(old, new, code, added, removed, changed)


def code_diff(*, old: FunctionVersion, code: str, label: str = "this deploy") -> str:
    """A unified diff from `old`'s code to `code` (the editor's, not saved yet)."""
    return "".join(
        difflib.unified_diff(_lines(old.code), _lines(code), fromfile=f"v{old.number}", tofile=label)
    )


def _lines(text: str) -> list[str]:
    # Keep every line newline-terminated so the last line diffs cleanly.
    lines = text.splitlines(keepends=True)
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def settings_schema_diff(old: list[dict], new: list[dict]) -> tuple[list, list, list]:
    """(added, removed, changed) settings, matched by name; `changed` lists the changed keys."""
    before = {item["name"]: item for item in old or []}
    after = {item["name"]: item for item in new or []}
    added = [after[name] for name in after if name not in before]
    removed = [before[name] for name in before if name not in after]
    changed = []
    for name in after:
        if name in before and before[name] != after[name]:
            keys = sorted(
                k for k in set(before[name]) | set(after[name]) if before[name].get(k) != after[name].get(k)
            )
            changes = {k: {"before": before[name].get(k), "after": after[name].get(k)} for k in keys}
            changed.append({"name": name, "changes": changes})
    return added, removed, changed


def testcases_for_function(*, function: Function):
    """The function's saved test cases, in name order."""
    return (
        TestCase.objects.filter(function=function)
        .select_related("function", "created_by")
        .order_by("name", "pk")
    )
