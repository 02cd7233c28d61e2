#!/usr/bin/env python
"""Django's command-line utility for this project."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.env import SettingsError

    try:
        execute_from_command_line(sys.argv)
    except SettingsError as exc:  # the message says what to set: no traceback
        sys.exit(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
