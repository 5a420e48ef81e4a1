"""``cityops users …`` and ``cityops keys …``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cli_options import DataDirOpt, console, settings_from_cli
from cityops.db import make_engine, make_sessionmaker, session_scope
from cityops.errors import ApiError
from cityops.identity.apikeys import create_api_key, revoke_api_key
from cityops.identity.models import Agency, ApiKey, ApiScope, Role, User
from cityops.identity.users import create_user

users_cli = typer.Typer(
    help="People who sign in: citizens, officers, supervisors, operators, admins.", no_args_is_help=True
)
keys_cli = typer.Typer(
    help="API keys for devices (ingest), integrators (read) and Open311 clients.", no_args_is_help=True
)

CLI_LABEL = "cli"
stdout = Console()  # tables go to stdout; messages to stderr (cityops.cli_options.console)


@contextmanager
def _db(data_dir: Path | None) -> Iterator[Session]:
    settings = settings_from_cli(data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    except ApiError as exc:
        console.print(f"[red]{exc.message}[/red] {exc.details or ''}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@users_cli.command("create")
def users_create(
    role: Annotated[Role, typer.Option(help="citizen, officer, supervisor, operator or admin.")],
    username: Annotated[str | None, typer.Option(help="Sign-in name.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number (stored as +84…).")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    full_name: Annotated[str, typer.Option("--full-name")] = "",
    agency: Annotated[list[str] | None, typer.Option(help="Agency code (repeat for several).")] = None,
    password: Annotated[
        str | None, typer.Option(help="Password; asked for when omitted (use --no-password to skip).")
    ] = None,
    no_password: Annotated[bool, typer.Option("--no-password", help="No password (OTP sign-in).")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a user."""
    if password is None and not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _db(data_dir) as session:
        agency_ids: list[int] = []
        for code in agency or []:
            found = session.scalar(select(Agency.id).where(Agency.code == code))
            if found is None:
                console.print(f"[red]No agency with code {code!r}[/red] (see GET /api/v1/agencies)")
                raise typer.Exit(1)
            agency_ids.append(found)
        user = create_user(
            session,
            role=role,
            username=username,
            phone=phone,
            email=email,
            full_name=full_name,
            password=None if no_password else password,
            agency_ids=agency_ids,
            audit_label=CLI_LABEL,
        )
        console.print(f"[green]Created user {user.id}[/green] {user.label} ({user.role.value})")


@users_cli.command("list")
def users_list(
    role: Annotated[Role | None, typer.Option(help="Only this role.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List users."""
    with _db(data_dir) as session:
        stmt = select(User).order_by(User.id)
        if role is not None:
            stmt = stmt.where(User.role == role)
        table = Table("id", "username", "phone", "name", "role", "agencies", "active")
        codes: dict[int, str] = {row[0]: row[1] for row in session.execute(select(Agency.id, Agency.code))}
        for u in session.scalars(stmt):
            table.add_row(
                str(u.id),
                u.username or "",
                u.phone or "",
                u.full_name,
                u.role.value,
                ", ".join(codes.get(a, str(a)) for a in u.agency_ids),
                "yes" if u.is_active else "no",
            )
        stdout.print(table)


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for (device, integrator).")],
    scope: Annotated[list[ApiScope], typer.Option(help="ingest, read or open311 (repeat for several).")],
    thing_id: Annotated[
        int | None, typer.Option("--thing-id", help="Limit an ingest key to one Thing.")
    ] = None,
    agency: Annotated[str | None, typer.Option(help="Owning agency code.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create an API key and print it (once: only its hash is stored)."""
    with _db(data_dir) as session:
        agency_id = None
        if agency:
            agency_id = session.scalar(select(Agency.id).where(Agency.code == agency))
            if agency_id is None:
                console.print(f"[red]No agency with code {agency!r}[/red]")
                raise typer.Exit(1)
        row, key = create_api_key(
            session,
            name=name,
            scopes=scope,
            thing_id=thing_id,
            owner_agency_id=agency_id,
            audit_label=CLI_LABEL,
        )
        console.print(
            f"[green]Created API key {row.id}[/green] ({', '.join(row.scopes)}). "
            "Copy it now, it is not shown again:"
        )
    typer.echo(key)


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="Key id (see `cityops keys list`).")],
    data_dir: DataDirOpt = None,
) -> None:
    """Revoke an API key (it stops working at once)."""
    with _db(data_dir) as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            console.print(f"[red]No API key {key_id}[/red]")
            raise typer.Exit(1)
        if revoke_api_key(session, row, audit_label=CLI_LABEL):
            console.print(f"[green]Revoked API key {key_id}[/green] ({row.name})")
        else:
            console.print(f"API key {key_id} was already revoked")


@keys_cli.command("list")
def keys_list(data_dir: DataDirOpt = None) -> None:
    """List API keys (prefix only)."""
    with _db(data_dir) as session:
        table = Table("id", "name", "prefix", "scopes", "thing", "revoked", "last used")
        for k in session.scalars(select(ApiKey).order_by(ApiKey.id)):
            table.add_row(
                str(k.id),
                k.name,
                k.prefix + "…",
                ",".join(k.scopes),
                str(k.thing_id or ""),
                k.revoked_at.isoformat() if k.revoked_at else "",
                k.last_used_at.isoformat() if k.last_used_at else "",
            )
        stdout.print(table)
