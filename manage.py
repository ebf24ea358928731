#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that never touch Redis do not start the embedded server.
WITHOUT_REDIS = {
    "check",
    "makemigrations",
    "migrate",
    "showmigrations",
    "sqlmigrate",
    "collectstatic",
    "spectacular",
    "createsuperuser",
    "changepassword",
    "help",
    "version",
    "dbshell",
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engipay.settings")
    from django.core.management import execute_from_command_line

    from engipay.bootstrap import prepare

    if len(sys.argv) > 1 and sys.argv[1] not in WITHOUT_REDIS:
        prepare()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
