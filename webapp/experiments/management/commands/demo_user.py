"""`python manage.py demo_user` makes (or resets) the demo login that `make run` prints."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create or reset the demo user and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-nasboard")
        parser.add_argument("--staff", action="store_true", help="also allow the admin")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=options["username"])
        user.set_password(options["password"])
        user.is_active = True
        if options["staff"]:
            user.is_staff = user.is_superuser = True
        user.save()
        self.stdout.write(f"user: {user.username}  password: {options['password']}" + ("  (staff: /admin/)" if user.is_staff else ""))
