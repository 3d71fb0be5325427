"""Settings come from the environment; a production configuration passes Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-0123456789-abcdefghij",
    "ALLOWED_HOSTS": "crm.example.com",
    "DATABASE_URL": "postgres://crm:secret@db.example.com:5432/crm",
    "REDIS_URL": "redis://cache.example.com:6379/0",
}


def manage(*args, env):
    clean_env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(  # noqa: S603 - the test's own fixed command line
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean_env | env,
        capture_output=True,
        text=True,
        check=False,
    )


def settings_value(expression, env):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings; print({expression})",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_configuration_passes_the_deploy_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_database_and_cache_come_from_the_environment():
    assert settings_value("settings.DATABASES['default']['HOST']", PRODUCTION_ENV) == (
        "db.example.com"
    )
    assert settings_value("settings.CACHES['default']['BACKEND']", PRODUCTION_ENV).endswith(
        "RedisCache"
    )


def test_default_database_is_sqlite_under_var(tmp_path):
    env = {"CRM_VAR_DIR": str(tmp_path)}
    assert settings_value("settings.DATABASES['default']['NAME']", env) == str(
        tmp_path / "crm.sqlite3"
    )
    assert settings_value("settings.CACHES['default']['BACKEND']", env).endswith("LocMemCache")


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_malformed_boolean_is_a_clear_error(value):
    result = manage("check", env={"DEBUG": value})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_the_login_policy_comes_from_the_environment():
    expression = (
        "settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds(), "
        "settings.TRUSTED_PROXY_COUNT, settings.STAFF_2FA_REQUIRED"
    )
    assert settings_value(expression, PRODUCTION_ENV) == "5 900.0 0 False"
    env = {
        **PRODUCTION_ENV,
        "AXES_FAILURE_LIMIT": "3",
        "AXES_COOLOFF_MINUTES": "60",
        "TRUSTED_PROXY_COUNT": "1",
        "STAFF_2FA_REQUIRED": "1",
    }
    assert settings_value(expression, env) == "3 3600.0 1 True"


@pytest.mark.parametrize(
    ("env", "inline"),
    [
        ({}, "True"),  # no broker configured
        ({"DEBUG": "1"}, "True"),
        ({"DEBUG": "1", "REDIS_URL": "redis://cache.example.com:6379/0"}, "True"),
        (PRODUCTION_ENV, "False"),
        ({**PRODUCTION_ENV, "BACKGROUND_INLINE": "1"}, "True"),
    ],
    ids=["no-broker", "debug", "debug-with-broker", "production", "production-inline"],
)
def test_background_jobs_run_inline_only_by_default_without_a_broker_or_with_debug(env, inline):
    assert settings_value("settings.BACKGROUND_INLINE, settings.CELERY_TASK_ALWAYS_EAGER", env) == (
        f"{inline} {inline}"
    )


def test_jobs_cannot_be_sent_to_a_broker_that_is_not_configured():
    result = manage("check", env={"BACKGROUND_INLINE": "0"})
    assert result.returncode != 0
    assert "BACKGROUND_INLINE=0 needs a broker" in result.stderr


def test_web_processes_say_how_background_jobs_run_and_commands_do_not(tmp_path):
    env = {"CRM_VAR_DIR": str(tmp_path)}
    web = subprocess.run(
        [sys.executable, "-c", "import crm.config.wsgi"],
        cwd=BASE_DIR,
        env={k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV} | env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Background jobs run inline, in this process, after each commit" in web.stderr
    assert "Background jobs" not in manage("check", env=env).stderr


@pytest.mark.parametrize("debug", ["1", "0"])
def test_a_line_logged_by_django_is_written_once(tmp_path, debug):
    # The autoreloader's "Watching for file changes" at the start of `make run`, for one.
    log = "import logging; logging.getLogger('django.utils.autoreload').warning('Watching')"
    result = manage(
        "shell", "--no-imports", "-c", log, env={"CRM_VAR_DIR": str(tmp_path), "DEBUG": debug}
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Watching") == 1


def test_the_public_base_url_follows_the_port_unless_set():
    unset = {"PORT": "", "PUBLIC_BASE_URL": ""}
    assert settings_value("settings.PUBLIC_BASE_URL", unset) == "http://127.0.0.1:8000"
    assert settings_value("settings.PUBLIC_BASE_URL", {**unset, "PORT": "8001"}) == (
        "http://127.0.0.1:8001"
    )
    env = {"PORT": "8001", "PUBLIC_BASE_URL": "https://crm.example.com/"}
    assert settings_value("settings.PUBLIC_BASE_URL", env) == "https://crm.example.com"
