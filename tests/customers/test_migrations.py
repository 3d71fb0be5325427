"""Migrations that rename in Python only leave the tables as they are."""

import io

import pytest
from django.core.management import call_command

from customers.models import ImportRun


@pytest.mark.django_db(transaction=True)  # SQLite edits schemas outside a transaction
def test_the_import_runs_file_path_keeps_its_column():
    sql = io.StringIO()
    call_command("sqlmigrate", "customers", "0009", stdout=sql)
    assert "(no-op)" in sql.getvalue()
    assert "ALTER" not in sql.getvalue().upper()


def test_the_import_runs_file_path_reads_the_source_column():
    assert ImportRun._meta.get_field("file_path").column == "source"
