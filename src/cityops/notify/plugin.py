"""Default plugin registration for notifications: built-in channels, retry loop and CLI."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cityops.plugins import hookimpl
from cityops.specs import BackgroundTaskSpec, PersonalDataSpec

if TYPE_CHECKING:
    import typer
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.settings import Settings

log = logging.getLogger("cityops.notify")


@hookimpl
def alert_channels(settings: Settings) -> list[Any]:
    from cityops.notify.channels import builtin_channels

    return list(builtin_channels(settings))


def retry_pass(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Send pending notifications and retry the failed ones that are due."""
    from cityops.notify.notifier import deliver_due

    with sessions() as session:
        deliver_due(session, settings)


@hookimpl
def background_tasks(settings: Settings) -> list[BackgroundTaskSpec]:
    """Retry failed deliveries every ``notify_retry_seconds`` (tests call ``deliver_due`` themselves)."""
    return [
        BackgroundTaskSpec(
            "notify-retry",
            settings.notify_retry_seconds,
            retry_pass,
            initial_delay_seconds=settings.notify_retry_seconds,
            description="sends pending notifications and retries failed ones",
        )
    ]


@hookimpl
def personal_data() -> list[PersonalDataSpec]:
    from cityops.notify.personal_data import SPEC

    return [SPEC]


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    import typer as typer_

    notify_cli = typer_.Typer(help="Notifications.", no_args_is_help=True)

    @notify_cli.command("retry")
    def retry() -> None:
        """Send pending notifications and retry failed ones that are due."""
        from cityops.cli_options import console, settings_from_cli
        from cityops.db import make_engine, make_sessionmaker
        from cityops.notify.notifier import deliver_due

        settings = settings_from_cli()
        engine = make_engine(settings.effective_database_url)
        with make_sessionmaker(engine)() as session:
            count = deliver_due(session, settings)
        engine.dispose()
        console.print(f"{count} delivery attempt(s) made.")

    cli.add_typer(notify_cli, name="notify")

    push_cli = typer_.Typer(help="Web Push (VAPID keys).", no_args_is_help=True)

    @push_cli.command("keys")
    def keys(
        new: bool = typer_.Option(
            False, "--new", help="Print a new key pair for webpush_vapid_private_key; write nothing."
        ),
    ) -> None:
        """Show the VAPID public key, creating <data_dir>/webpush-vapid.key when no key is configured."""
        from cityops.cli_options import console, settings_from_cli
        from cityops.notify.vapid import generate_private_key, key_path, private_key, public_key_of

        if new:
            fresh = generate_private_key()
            console.print(f"CITYOPS_WEBPUSH_VAPID_PRIVATE_KEY={fresh}")
            console.print(f"public key: {public_key_of(fresh)}")
            return
        settings = settings_from_cli()
        key = private_key(settings)
        assert key is not None  # created when missing
        source = "settings" if settings.webpush_vapid_private_key else str(key_path(settings))
        console.print(f"VAPID key from {source}")
        console.print(f"public key: {public_key_of(key)}")

    cli.add_typer(push_cli, name="push")
