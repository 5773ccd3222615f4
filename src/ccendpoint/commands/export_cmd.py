"""``ccendpoint export``: the catalog in other tools' formats (a LiteLLM gateway's ``config.yaml``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ccendpoint import __version__
from ccendpoint.catalog.lookup import find_provider
from ccendpoint.commands import common
from ccendpoint.commands.options import split_regions
from ccendpoint.errors import UsageError
from ccendpoint.files import write_atomic
from ccendpoint.integrations.litellm_export import ExportOptions, key_variables, litellm_config, render_yaml

app = typer.Typer(
    help="Write the catalog in another tool's format (a LiteLLM gateway's config).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.command("litellm")
def litellm(
    ctx: typer.Context,
    providers: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="Provider ids or aliases, e.g. kimi mimo.", show_default=False),
    ] = None,
    all_providers: Annotated[bool, typer.Option("--all", help="Every provider of the catalog.")] = False,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", "-o", help="Write to FILE instead of standard output.", metavar="FILE"),
    ] = None,
    region: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--region",
            help="Endpoint region: REGION with one provider, else PROVIDER=REGION (repeatable).",
            metavar="REGION",
        ),
    ] = None,
    deprecated: Annotated[bool, typer.Option("--deprecated", help="Also export deprecated models.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE when it exists.")] = False,
) -> None:
    """A LiteLLM proxy config.yaml: one model per catalog model, ccendpoint's callback registered.

    Each model calls the provider's endpoint with the key from the catalog's environment variable
    (os.environ/KIMI_API_KEY: no key is ever written). The callback applies the catalog's rules on
    the gateway, as the local proxy does. Install it where LiteLLM runs:
    pip install 'ccendpoint[litellm]'.

    Example: ccendpoint export litellm --all > config.yaml

    Example: ccendpoint export litellm kimi qwen --region kimi=china --out config.yaml
    """
    names = list(providers or [])
    if names and all_providers:
        raise UsageError("Name providers or give --all, not both.", hint="Use one of them.")
    catalog = common.catalog(ctx)
    if not names and not all_providers:
        known = " ".join(p.id for p in catalog.providers)
        raise UsageError(
            "Name the providers to export, or give --all.",
            hint=f"Example: ccendpoint export litellm kimi qwen (known: {known}).",
        )
    chosen = list(catalog.providers) if all_providers else []
    for name in names:
        found = find_provider(catalog, name)
        if found not in chosen:
            chosen.append(found)
    plain, regions = split_regions(list(region or []), catalog)
    if plain is not None:
        if len(chosen) != 1:
            raise UsageError(
                f"--region {plain} does not say which provider it is for.",
                hint="Name the provider: --region kimi=china (repeatable).",
            )
        regions[chosen[0].id] = plain
    config = litellm_config(chosen, ExportOptions(regions=regions, include_deprecated=deprecated))
    text = render_yaml(config, chosen, __version__)
    count = len(config["model_list"])
    variables = ", ".join(key_variables(chosen))
    if out is None:
        sys.stdout.write(text)
        if sys.stderr.isatty():
            common.err_console().print(f"{count} model(s). The gateway needs {variables} set.", markup=False)
        return
    _write(out, text, force)
    common.err_console().print(
        f"Wrote {out}: {count} model(s). Set {variables}, then: litellm --config {out}", markup=False
    )


def _write(path: Path, text: str, force: bool) -> None:
    if path.is_dir():
        raise UsageError(f"{path} is a folder.", hint="Give a file name, e.g. --out config.yaml.")
    if path.exists() and not force:
        raise UsageError(
            f"{path} exists; ccendpoint does not overwrite it without --force.",
            hint=f"Add --force to replace it, or write elsewhere: --out {path.with_suffix('.new.yaml')}.",
        )
    write_atomic(path, text.encode("utf-8"), 0o644)  # no secret in it: the gateway may run as another user
