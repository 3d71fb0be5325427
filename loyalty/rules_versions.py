"""Which version of a programme's earning rules and tiers is current.

The database keeps it: triggers (migration 0014) give a programme its row when it is created and a
new random version whenever one of its earning rules, a rule's stores or one of its tiers is
inserted, changed or deleted, whoever writes them — a service, the admin, a migration, a shell.
No Python code writes these rows. A purchase reads the version with the enrolments it locks and
keeps the rules and tiers it read for that version (loyalty.services.programme_rules), so that
most purchases read neither.

The version is random rather than counted because a primary key can come again: on SQLite a
programme created in a transaction that rolled back leaves its id to the next one.
"""

from django.db import models


class RulesVersion(models.Model):
    program = models.OneToOneField(
        "loyalty.Program",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="rules_version",
    )
    version = models.UUIDField()

    def __str__(self) -> str:
        return f"{self.program_id}: {self.version}"
