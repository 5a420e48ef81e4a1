"""Settings: environment and .env are read; bad values and default secrets give readable errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from cityops.cli import cli
from cityops.settings import DEV_SECRET, BusKind, Environment, Settings, SettingsError, load_settings

GOOD_SECRET = "a-long-random-production-secret-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No stray CITYOPS_* variables and no .env from the caller's directory."""
    for name in list(os.environ):
        if name.startswith("CITYOPS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_are_a_working_dev_setup() -> None:
    settings = load_settings()
    assert settings.env is Environment.DEV
    assert settings.is_dev
    assert settings.bus is BusKind.MEMORY
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("cityops.sqlite3")


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env="production")
    message = str(caught.value)
    assert "CITYOPS_SECRET_KEY" in message
    assert "development default" in message


def test_production_refuses_the_default_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_ENV", "production")
    monkeypatch.setenv("CITYOPS_SECRET_KEY", DEV_SECRET)
    with pytest.raises(SettingsError, match="CITYOPS_SECRET_KEY"):
        load_settings()


def test_production_accepts_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_ENV", "production")
    monkeypatch.setenv("CITYOPS_SECRET_KEY", GOOD_SECRET)
    settings = load_settings()
    assert settings.env is Environment.PRODUCTION
    assert settings.secret_key == GOOD_SECRET
    assert not settings.is_dev


@pytest.mark.parametrize("env", ["dev", "test"])
def test_the_default_secret_is_allowed_outside_production(env: str) -> None:
    assert load_settings(env=env).secret_key == DEV_SECRET


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match="CITYOPS_SECRET_KEY: String should have at least 16 characters"):
        load_settings(secret_key="short")


def test_a_bad_port_gives_a_readable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_PORT", "abc")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("Invalid cityops configuration:")
    assert "CITYOPS_PORT: Input should be a valid integer" in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("CITYOPS_PORT", "70000", "CITYOPS_PORT: Input should be less than or equal to 65535"),
        ("CITYOPS_ENV", "staging", "CITYOPS_ENV: Input should be 'dev', 'test' or 'production'"),
        ("CITYOPS_BUS", "kafka", "CITYOPS_BUS: Input should be 'memory' or 'nats'"),
        ("CITYOPS_LOG_JSON", "perhaps", "CITYOPS_LOG_JSON: Input should be a valid boolean"),
        (
            "CITYOPS_BUS_MAX_DELIVER",
            "0",
            "CITYOPS_BUS_MAX_DELIVER: Input should be greater than or equal to 1",
        ),
        ("CITYOPS_NATS_SUBJECT_PREFIX", "a.>", "CITYOPS_NATS_SUBJECT_PREFIX: String should match pattern"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=r"^Invalid cityops configuration") as caught:
        load_settings()
    assert fragment in str(caught.value)


def test_every_bad_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_PORT", "abc")
    monkeypatch.setenv("CITYOPS_DATABASE_POOL_SIZE", "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "CITYOPS_PORT" in str(caught.value)
    assert "CITYOPS_DATABASE_POOL_SIZE" in str(caught.value)


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_PORT", "9123")
    monkeypatch.setenv("CITYOPS_DATABASE_URL", "postgresql+psycopg://cityops@db/cityops")
    monkeypatch.setenv("CITYOPS_CORS_ORIGINS", '["https://tayninh.gov.vn"]')
    monkeypatch.setenv("CITYOPS_LOG_JSON", "true")
    settings = load_settings()
    assert settings.port == 9123
    assert settings.effective_database_url == "postgresql+psycopg://cityops@db/cityops"
    assert settings.cors_origins == ["https://tayninh.gov.vn"]
    assert settings.log_json is True


def test_dotenv_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "CITYOPS_PORT=8765\nCITYOPS_PUBLIC_URL=https://iocc.tayninh.gov.vn\nCITYOPS_BUS=nats\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CITYOPS_BUS", "memory")
    settings = load_settings()
    assert settings.port == 8765
    assert settings.public_url == "https://iocc.tayninh.gov.vn"
    assert settings.bus is BusKind.MEMORY


def test_a_bad_value_in_dotenv_is_reported(clean_env: Path) -> None:
    (clean_env / ".env").write_text("CITYOPS_PORT=eighty\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="CITYOPS_PORT"):
        load_settings()


def test_overrides_win_and_settings_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_PORT", "9000")
    settings = load_settings(port=9001)
    assert settings.port == 9001
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert missing == []


def _output(result: Result) -> str:
    return " ".join(result.output.split())  # stdout and stderr; rich may wrap long lines


def test_serve_with_a_bad_setting_exits_2_with_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_PORT", "abc")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    out = _output(result)
    assert "Invalid cityops configuration" in out
    assert "CITYOPS_PORT" in out
    assert "Traceback" not in out


def test_serve_in_production_with_the_default_secret_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_ENV", "production")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "CITYOPS_SECRET_KEY" in _output(result)
