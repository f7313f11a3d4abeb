#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# `runfunction --settings FILE.json` takes setting VALUES, but Django reads every `--settings`
# as the settings module before any command sees it; hand it to the command under its own name.
FUNCTION_SETTINGS_COMMANDS = {"runfunction"}


def _rename_function_settings(argv: list[str]) -> list[str]:
    if len(argv) < 2 or argv[1] not in FUNCTION_SETTINGS_COMMANDS:
        return argv
    renamed = []
    for arg in argv:
        if arg == "--settings":
            arg = "--function-settings"
        elif arg.startswith("--settings="):
            arg = "--function-settings=" + arg.split("=", 1)[1]
        renamed.append(arg)
    return renamed


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "functions_platform.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(_rename_function_settings(sys.argv))


if __name__ == "__main__":
    main()
