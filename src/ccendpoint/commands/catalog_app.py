"""``ccendpoint catalog drift|update|status|reset``: keep the catalog true without a new release."""

from __future__ import annotations

import os
from typing import Annotated, Any, Optional
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from ccendpoint.catalog import bundle, installed
from ccendpoint.catalog.drift import Drift, DriftFailure, compare, fetch_served, models_url
from ccendpoint.catalog.lookup import find_provider
from ccendpoint.catalog.model import Provider
from ccendpoint.commands import common
from ccendpoint.commands.options import JsonOpt
from ccendpoint.doctor.live import api_key
from ccendpoint.errors import UsageError

app = typer.Typer(
    help="Check the catalog against the providers, and install a newer catalog without a release.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

#: drift and the catalog commands: 0 nothing drifted, 1 something did, 2 usage error or unreachable.
EXIT_DRIFT = 1
EXIT_UNCHECKED = 2


def _fail(message: str, hint: str = "") -> typer.Exit:
    err = common.err_console()
    err.print(f"[bold red]error:[/bold red] {escape(message)}")
    if hint:
        err.print(hint, markup=False)
    return typer.Exit(EXIT_UNCHECKED)


def _check_base_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise _fail(
            f"--base-url {url!r} is not an http(s) URL.", "Give the provider's API base, e.g. https://api.x.test/v1."
        )
    return url.strip()


def _key_for(provider: Provider, key_env: str | None) -> tuple[str | None, str]:
    """(key, what to tell the user when there is none)."""
    if key_env:
        value = os.environ.get(key_env, "").strip()
        return (value or None), f"--key-env {key_env} names a variable that is not set or empty"
    key, _ = api_key(provider, os.environ)
    names = " or ".join(provider.key_env) or "the provider's key variable"
    return key, f"no key: set {names}, or name another variable with --key-env"


def drift(
    ctx: typer.Context,
    provider: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Only this provider (id or alias); default: every provider you have a key for."),
    ] = None,
    base_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--base-url",
            help="Ask this API base instead of the catalog's endpoint (needs PROVIDER). Your key is sent there.",
            metavar="URL",
        ),
    ] = None,
    key_env: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--key-env", help="Read the key from this environment variable.", metavar="NAME"),
    ] = None,
    region: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--region", help="Ask this region's endpoint (default: the catalog's default region)."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for each provider.", min=1)] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Compare the models each provider serves (GET /models, with your key) with the catalog.

    Three lists per provider: served ids the catalog does not know, catalog models no longer
    served, and models the catalog marks deprecated that are still served. The key comes from the
    catalog's key variables (or --key-env) and is sent only to the catalog's endpoint or to the
    --base-url you typed.

    Exit code: 0 nothing drifted, 1 something drifted, 2 a usage error or a provider that could
    not be asked (no key, key refused, network).

    Example: ccendpoint catalog drift kimi

    Example: ccendpoint catalog drift --json
    """
    cat = common.catalog(ctx)
    if base_url is not None and provider is None:
        raise _fail(
            "--base-url needs a PROVIDER: whose models are served there?", "Example: catalog drift kimi --base-url URL"
        )
    try:
        providers = [find_provider(cat, provider)] if provider else list(cat.providers)
        if region is not None and (provider is None or region not in providers[0].endpoints):
            known = ", ".join(providers[0].endpoints) if provider else "name a PROVIDER first"
            raise UsageError(f"Unknown region '{region}'.", hint=f"Known regions: {known}.")
    except UsageError as exc:
        raise _fail(exc.message, exc.hint or "") from None
    url_override = _check_base_url(base_url) if base_url is not None else None

    results: dict[str, Drift | DriftFailure] = {}
    skipped: dict[str, str] = {}
    urls: dict[str, str] = {}
    for prov in providers:
        key, missing = _key_for(prov, key_env)
        if key is None:
            if provider is not None or key_env is not None:
                results[prov.id] = DriftFailure("no-key", missing)
            else:
                skipped[prov.id] = missing
            continue
        url = models_url(url_override or prov.endpoint(region).url)
        urls[prov.id] = url
        with _status(f"Asking {prov.group_name} for the models it serves…", as_json):
            try:
                served = fetch_served(url, key, timeout=timeout)
            except DriftFailure as failure:
                results[prov.id] = failure
                continue
        results[prov.id] = compare(prov, served.ids)

    code = _exit_code(results)
    if as_json:
        common.print_json(_json(results, skipped, urls))
    else:
        _print(results, skipped, urls)
    raise typer.Exit(code)


def _exit_code(results: dict[str, Any]) -> int:
    if not results or any(isinstance(r, DriftFailure) for r in results.values()):
        return EXIT_UNCHECKED
    return EXIT_DRIFT if any(r.drifted for r in results.values()) else 0


def _json(results: dict[str, Any], skipped: dict[str, str], urls: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pid, result in results.items():
        if isinstance(result, Drift):
            out[pid] = result.as_dict() | {"served": result.served, "url": urls.get(pid)}
        else:
            out[pid] = {
                "unknown": [],
                "gone": [],
                "deprecated_but_served": [],
                "error": result.message,
                "error_kind": result.kind,
                "url": urls.get(pid),
            }
    for pid, why in skipped.items():
        out[pid] = {"unknown": [], "gone": [], "deprecated_but_served": [], "skipped": why}
    return out


def _print(results: dict[str, Any], skipped: dict[str, str], urls: dict[str, str]) -> None:
    out = common.console()
    for pid, result in results.items():
        if not isinstance(result, Drift):
            out.print(f"[red]✗[/red] {escape(pid)}: could not ask: {escape(result.message)}")
            if result.hint:
                out.print(f"    {escape(result.hint)}")
            continue
        where = f" ({escape(urls[pid])}, {result.served} served)"
        if not result.drifted:
            out.print(f"[green]✓[/green] {escape(pid)}: the catalog matches{where}")
            continue
        out.print(f"[yellow]![/yellow] {escape(pid)}: drift{where}")
        for label, ids in (
            ("served, unknown to the catalog", result.unknown),
            ("in the catalog, no longer served", result.gone),
            ("deprecated in the catalog, still served", result.deprecated_but_served),
        ):
            if ids:
                out.print(f"    {label}: " + escape(", ".join(ids)))
        if result.unknown:
            out.print(f"    [dim]`ccendpoint add {escape(pid)} --discover` can add the unknown ones.[/dim]")
    for pid, why in skipped.items():
        out.print(f"[dim]- {escape(pid)}: skipped, {escape(why)}[/dim]")
    if results:
        out.print("[dim]A newer catalog: ccendpoint catalog update --from URL (see `catalog status`).[/dim]")
    else:
        out.print("No provider could be asked: set a provider's key variable (see `ccendpoint show PROVIDER`).")


class _status:
    """A spinner on the terminal while a provider is asked; silent when piped or for --json."""

    def __init__(self, text: str, quiet: bool) -> None:
        self._text, self._quiet = text, quiet
        self._status: Any = None

    def __enter__(self) -> None:
        err = common.err_console()
        if not self._quiet and err.is_terminal:
            self._status = err.status(self._text)
            self._status.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)


def update(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="The bundle: an https URL (of its folder or manifest.json), or a local folder or manifest.json.",
            metavar="URL|FILE",
        ),
    ],
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds for the whole download.", min=1)] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Install a newer catalog bundle into your data folder, without a new ccendpoint release.

    Every file is checked against the bundle's manifest (size and SHA-256) and the whole set
    against the catalog schema before anything changes; the switch is atomic, so a broken,
    tampered or interrupted download leaves the active catalog as it was. HTTPS only, except for
    this machine (http://127.0.0.1). `ccendpoint catalog reset` returns to the bundled catalog.

    Example: ccendpoint catalog update --from https://example.org/ccendpoint-catalog/

    Example: ccendpoint catalog update --from ./bundle/manifest.json
    """
    with _status("Fetching and checking the catalog bundle…", as_json):
        manifest, files, label = bundle.read_bundle(source, timeout=timeout)
        installed.check_files(manifest, files)
        providers = bundle.check_catalog(files)
        folder = bundle.install(manifest, files, label)
    info = installed.active()
    if as_json:
        common.print_json(_status_dict(info) | {"installed": str(folder), "providers": providers})
        return
    out = common.console()
    out.print(
        f"Installed catalog version {manifest.version} ({manifest.date}, {len(files)} files, "
        f"{providers} providers) from {label}.",
        markup=False,
    )
    if info.kind != "installed":
        out.print(info.note, markup=False)


def status(
    as_json: JsonOpt = False,
) -> None:
    """Show which catalog is active (bundled or installed), its version, date and age.

    Example: ccendpoint catalog status
    """
    info = installed.active()
    if as_json:
        common.print_json(_status_dict(info))
        return
    out = common.console()
    age = info.age_days()
    if info.kind == "installed":
        out.print(
            f"Active: installed catalog, version {info.version}, dated {info.date} ({age} days old).", markup=False
        )
        out.print(f"  From {info.source}, installed {info.installed_at}, in {info.folder}.", markup=False)
        out.print(f"  This release bundles version {info.bundled_version} ({info.bundled_date}).", markup=False)
    else:
        out.print(f"Active: bundled catalog, version {info.version}, dated {info.date} ({age} days old).", markup=False)
    if info.note:
        out.print(f"  {info.note}", markup=False)
    warning = info.stale_warning()
    if warning:
        out.print(f"[yellow]![/yellow] {warning}", markup=True, highlight=False)


def reset() -> None:
    """Go back to the catalog bundled with this release (removes an installed update).

    Example: ccendpoint catalog reset
    """
    removed = bundle.reset()
    version, date = installed.bundled_info()
    out = common.console()
    if removed:
        out.print(
            f"Removed the installed catalog; the bundled one (version {version}, {date}) is active.", markup=False
        )
    else:
        out.print(f"Nothing installed; the bundled catalog (version {version}, {date}) is active.", markup=False)


def _status_dict(info: installed.ActiveCatalog) -> dict[str, Any]:
    return {
        "active": info.kind,
        "version": info.version,
        "date": info.date,
        "age_days": info.age_days(),
        "stale": info.stale_warning() is not None,
        "source": info.source or None,
        "installed_at": info.installed_at or None,
        "folder": str(info.folder) if info.folder else None,
        "bundled_version": info.bundled_version,
        "bundled_date": info.bundled_date,
        "note": info.note or None,
    }


app.command("drift")(drift)
app.command("update")(update)
app.command("status")(status)
app.command("reset")(reset)
