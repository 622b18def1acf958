#!/usr/bin/env python
"""Django's command-line utility for NASBoard (the `webapp` project)."""
import os
import sys

#: commands that run on a developer's machine (`make run`, `make bench-dashboard`): local mode, see webapp/secret_key.py
LOCAL_COMMANDS = ("run_dashboard", "bench_events", "bench_studies")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    if sys.argv[1:2] and sys.argv[1] in LOCAL_COMMANDS:
        # local development (`make run`, the benchmarks): without SECRET_KEY it uses this machine's key in runs/
        # (webapp/secret_key.py); the web server and workers these start inherit the flag
        os.environ.setdefault("NASBOARD_LOCAL", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
