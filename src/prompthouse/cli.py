"""The ``prompthouse`` command line.

Every prompt command opens the registry named by ``--url`` (a prompthouse server) or
``--store`` (a database), or the default SQLite store, and closes it when done. Errors
from prompthouse print ``error: <message>`` on stderr and exit 1; bad usage exits 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from prompthouse._version import __version__
from prompthouse.errors import InvalidArgumentError, MissingVariablesError, PromptHouseError

app = typer.Typer(help="prompthouse: a self-hosted prompt registry.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
prompts_app = typer.Typer(help="Create, read, search, diff, tag and delete prompts.",
                          no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")
alias_app = typer.Typer(help="Point an alias at a version, or remove it.", no_args_is_help=True)
prompts_app.add_typer(alias_app, name="alias")
tag_app = typer.Typer(help="Set or delete prompt tags (version tags with --version).",
                      no_args_is_help=True)
prompts_app.add_typer(tag_app, name="tag")

out = Console()
err = Console(stderr=True)

StoreOption = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option(
        "--store",
        envvar="PROMPTHOUSE_STORE_URI",
        help="Store URI: sqlite:///path.db (default ./prompthouse.db) or postgresql://...",
        show_default=False,
    ),
]
# The prompt commands read the environment through connect(), not through these options,
# so a flag always beats a variable: `--store X` is not overridden by an exported
# PROMPTHOUSE_URL.
RegistryStoreOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--store",
        help="Store URI: sqlite:///path.db or postgresql://... (default: "
        "$PROMPTHOUSE_STORE_URI, else sqlite:///./prompthouse.db).",
        show_default=False,
    ),
]
UrlOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--url",
        help="A prompthouse server, http(s)://host:port; wins over --store (default: "
        "$PROMPTHOUSE_URL, which wins over $PROMPTHOUSE_STORE_URI).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
NameArg = Annotated[str, typer.Argument(help="The prompt name (folders with '/').")]
RefArg = Annotated[str, typer.Argument(
    metavar="NAME_OR_URI",
    help="A name (newest version) or prompts:/name/3, prompts:/name@alias, prompts:/name@latest.",
)]
VersionOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--version", min=1, help="A version number.", show_default=False),
]
PairsOption = Optional[list[str]]  # noqa: UP045
InFile = Optional[Path]  # noqa: UP045


def _in_file(help_text: str) -> Any:
    """An option naming an existing, readable file."""
    return typer.Option(exists=True, dir_okay=False, readable=True, show_default=False,
                        help=help_text)


class OrderBy(StrEnum):
    name = "name"
    name_desc = "-name"
    last_updated = "last_updated"
    last_updated_desc = "-last_updated"


class DocFormat(StrEnum):
    yaml = "yaml"
    json = "json"


# --- shared helpers -------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(1)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn a PromptHouseError into ``error: <message>`` on stderr and exit code 1."""
    try:
        yield
    except PromptHouseError as exc:
        _fail(exc.message)


@contextmanager
def _registry(store: str | None, url: str | None) -> Iterator[Any]:
    """The registry at ``url`` (a server) or ``store``, closed on the way out."""
    import prompthouse

    with _errors():
        # Neither flag given: connect() reads PROMPTHOUSE_URL, then PROMPTHOUSE_STORE_URI.
        registry = prompthouse.connect(url or store)
        try:
            yield registry
        finally:
            registry.close()


def _pairs(items: Sequence[str] | None, option: str) -> dict[str, str]:
    """``["k=v", ...]`` as a dict; an item without ``=`` or a key is a usage error."""
    result = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}.",
                                     param_hint=f"'{option}'")
        result[key] = value
    return result


def _json_value(text: str) -> Any:
    """``text`` parsed as JSON (``0.2``, ``true``, ``["a"]``), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _read_file(path: Path, option: str) -> Any:
    """A YAML or JSON file's data (by extension); a bad file is a usage error."""
    from prompthouse.transfer import load_document

    try:
        return load_document(path)
    except InvalidArgumentError as exc:
        raise typer.BadParameter(exc.message, param_hint=f"'{option}'") from None


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _kv(mapping: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (mapping or {}).items())


def _done(message: str) -> None:
    out.print(message, markup=False, highlight=False, soft_wrap=True)


# --- version and db (unchanged) -------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prompthouse {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """prompthouse: a self-hosted prompt registry."""


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    store: StoreOption = None,
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--config", help="A YAML settings file or a Llama Stack run.yaml "
                     "(see the README).",
                     show_default=False),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the registry over HTTP: the native API under /api/v1, the Llama Stack
    Prompts API under /v1/prompts, docs at /docs.

    SQLite by default (./prompthouse.db); migrations are applied on start.
    """
    from prompthouse.server.app import run_server

    try:
        run_server(host=host, port=port, workers=workers, store=store,
                   config=str(config) if config else None, log_level=log_level)
    except PromptHouseError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from None


@db_app.command("upgrade")
def db_upgrade(store: StoreOption = None) -> None:
    """Apply pending schema migrations to the store (safe to run at any time)."""
    from prompthouse.settings import load_settings
    from prompthouse.stores.sql import SqlStore, upgrade_schema

    try:
        settings = load_settings(store_uri=store)
        sql = SqlStore(settings.store_uri, migrate=False)
        try:
            previous = upgrade_schema(sql._engine)
        finally:
            sql.close()
    except PromptHouseError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    if previous is None:
        typer.echo(f"{sql.uri}: schema is up to date.")
    else:
        typer.echo(f"{sql.uri}: upgraded the schema (from {previous}).")


# --- prompts create -------------------------------------------------------------------


def _template_from(template_file: Path | None, template: str | None,
                   chat_file: Path | None) -> Any:
    given = [x for x in (template_file, template, chat_file) if x is not None]
    if len(given) != 1:
        raise typer.BadParameter(
            f"give exactly one template source, not {len(given)}.",
            param_hint="'--template-file' / '--template' / '--chat-file'",
        )
    if template is not None:
        return template
    if template_file is not None:
        try:
            return template_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise typer.BadParameter("the file is not UTF-8 text.",
                                     param_hint="'--template-file'") from None
    messages = _read_file(chat_file, "--chat-file")  # type: ignore[arg-type]
    if isinstance(messages, dict) and set(messages) == {"messages"}:
        messages = messages["messages"]
    if not isinstance(messages, list):
        raise typer.BadParameter(
            "expected a list of {role, content} messages (or {messages: [...]}).",
            param_hint="'--chat-file'",
        )
    return messages


def _model_config_from(pairs: list[str] | None, path: Path | None) -> dict[str, Any] | None:
    if pairs and path is not None:
        raise typer.BadParameter("give --model-config KEY=VALUE or --model-config-file, "
                                 "not both.", param_hint="'--model-config'")
    if path is not None:
        return _mapping_file(path, "--model-config-file")
    if not pairs:
        return None
    return {k: _json_value(v) for k, v in _pairs(pairs, "--model-config").items()}


def _mapping_file(path: Path, option: str) -> dict[str, Any]:
    data = _read_file(path, option)
    if not isinstance(data, dict):
        raise typer.BadParameter(f"expected a mapping, got {type(data).__name__}.",
                                 param_hint=f"'{option}'")
    return data


@prompts_app.command("create")
def create(
    name: NameArg,
    template_file: Annotated[InFile, _in_file("Read a text template from a file.")] = None,
    template: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--template", "-t", help="The text template itself.", show_default=False),
    ] = None,
    chat_file: Annotated[InFile, _in_file(
        "A chat template: a .json/.yaml/.yml list of {role, content} messages.")] = None,
    commit_message: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--commit-message", "-m", help="What changed.", show_default=False),
    ] = None,
    tag: Annotated[PairsOption, typer.Option(
        "--tag", help="KEY=VALUE, on the version and the prompt (repeatable).")] = None,
    model_config: Annotated[PairsOption, typer.Option(
        "--model-config", help="KEY=VALUE (values read as JSON when they parse, "
        "e.g. temperature=0.2; repeatable).")] = None,
    model_config_file: Annotated[InFile, _in_file(
        "The model config as a .json/.yaml/.yml mapping.")] = None,
    response_format_file: Annotated[InFile, _in_file(
        "The response format (a JSON schema) as a .json/.yaml/.yml mapping.")] = None,
    as_json: JsonOption = False,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Register a new prompt, or the next version of an existing one."""
    body = _template_from(template_file, template, chat_file)
    tags = _pairs(tag, "--tag")
    config = _model_config_from(model_config, model_config_file)
    fmt = (_mapping_file(response_format_file, "--response-format-file")
           if response_format_file is not None else None)
    with _registry(store, url) as registry:
        version = registry.register_prompt(name, body, commit_message, tags, fmt, config)
    if as_json:
        _print_json(version.to_dict())
    else:
        _done(f"Registered version {version.version} of {name!r} ({version.uri}).")


# --- reading --------------------------------------------------------------------------


@prompts_app.command("get")
def get(
    name_or_uri: RefArg,
    version: VersionOption = None,
    as_json: JsonOption = False,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Show one version: its template, model config, tags and aliases."""
    with _registry(store, url) as registry:
        found = registry.load_prompt(name_or_uri, version, cache_ttl_seconds=0)
    if as_json:
        _print_json(found.to_dict())
        return
    _print_version(found)


def _print_version(version: Any) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [
        ("name", version.name), ("version", str(version.version)), ("uri", version.uri),
        ("type", version.prompt_type), ("aliases", ", ".join(version.aliases)),
        ("commit message", version.commit_message or ""),
        ("created", " by ".join(x for x in (_when(version.creation_timestamp),
                                            version.user_id) if x)),
        ("tags", _kv(version.tags)), ("variables", ", ".join(sorted(version.variables))),
        ("model config", json.dumps(version.model_config) if version.model_config else ""),
        ("response format",
         json.dumps(version.response_format) if version.response_format else ""),
    ]
    for label, value in rows:
        if value:
            grid.add_row(label, Text(value))
    out.print(grid)
    out.print()
    if version.is_text_prompt:
        out.print(Text(version.template))
        return
    for message in version.template:
        out.print(Text(f"[{message['role']}]", style="bold magenta"))
        content = message["content"]
        out.print(Text(content if isinstance(content, str) else json.dumps(content)))


def search(
    tag: Annotated[PairsOption, typer.Option(
        "--tag", help="KEY=VALUE: only prompts with this tag (repeatable).")] = None,
    name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--name", help="Name pattern, case-insensitive: % any run, _ one "
                     "character.", show_default=False),
    ] = None,
    alias: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--alias", help="Only prompts that have this alias.", show_default=False),
    ] = None,
    filter_string: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--filter", help="MLflow filter: name LIKE 'qa-%' AND tags.team = 'a'.",
                     show_default=False),
    ] = None,
    max_results: Annotated[int, typer.Option(min=1, max=1000, help="Page size.")] = 100,
    order_by: Annotated[OrderBy, typer.Option(help="Sort order ('-' is descending).")]
    = OrderBy.name,
    page_token: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="The token printed after a full page.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Find prompts by tag, name pattern, alias or filter (a page at a time)."""
    tags = _pairs(tag, "--tag")
    with _registry(store, url) as registry:
        page = registry.search_prompts(filter_string, max_results, page_token,
                                       name_pattern=name, tags=tags or None, alias=alias,
                                       order_by=order_by.value)
    if as_json:
        _print_json({"prompts": [p.to_dict() for p in page],
                     "next_page_token": page.next_page_token})
        return
    table = Table(Column("name", overflow="fold"), "latest", "aliases", "tags",
                  "description", "updated")
    for p in page:
        aliases = ", ".join(f"{a}={v}" for a, v in p.aliases.items())
        table.add_row(p.name, str(p.latest_version or "-"), aliases, _kv(p.tags),
                      p.description or "", _when(p.last_updated_timestamp))
    out.print(table if page else "No prompts found.")
    if page.next_page_token:
        _done(f"More: --page-token {page.next_page_token}")


prompts_app.command("search")(search)
prompts_app.command("list", help="List prompts (the same as search).")(search)


@prompts_app.command("versions")
def versions(
    name: NameArg,
    as_json: JsonOption = False,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """List every live version of a prompt, newest first."""
    found: list[Any] = []
    with _registry(store, url) as registry:
        token = None
        while True:
            page = registry.list_prompt_versions(name, 1000, token)
            found.extend(page)
            token = page.next_page_token
            if not token:
                break
    if as_json:
        _print_json({"versions": [v.to_dict() for v in found]})
        return
    table = Table("version", "created", "type", "aliases", "tags", "commit message")
    for v in found:
        table.add_row(str(v.version), _when(v.creation_timestamp), v.prompt_type,
                      ", ".join(v.aliases), _kv(v.tags), v.commit_message or "")
    out.print(table)


@prompts_app.command("diff")
def diff(
    name: NameArg,
    from_version: Annotated[int, typer.Argument(metavar="FROM", min=1, help="Old version.")],
    to_version: Annotated[int, typer.Argument(metavar="TO", min=1, help="New version.")],
    as_json: JsonOption = False,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Show what changed between two versions: template, model config, format, tags."""
    with _registry(store, url) as registry:
        result = registry.diff_prompt_versions(name, from_version, to_version)
    if as_json:
        _print_json(result)
    else:
        _print_diff(result)


_LINE_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"),
                ("-", "red"), ("\\", "dim"))


def _print_diff(result: dict[str, Any]) -> None:
    title = f"{result['name']}: version {result['from']} -> {result['to']}"
    out.print(Text(title, style="bold"))
    sections = [(key.replace("_", " "), result[key])
                for key in ("model_config", "response_format", "tags")]
    changed = [(label, d) for label, d in sections if any(d.values())]
    if not result["template"] and not changed:
        _done("No differences.")
        return
    for part in result["template"]:
        out.print(Text(part["part"], style="bold magenta"))
        for line in part["diff"].splitlines():
            style = next((s for prefix, s in _LINE_STYLES if line.startswith(prefix)), None)
            out.print(Text(line, style=style or ""), soft_wrap=True)
    for label, d in changed:
        out.print(Text(label, style="bold magenta"))
        for key, value in d["added"].items():
            out.print(Text(f"  + {key}: {json.dumps(value)}", style="green"), soft_wrap=True)
        for key, value in d["removed"].items():
            out.print(Text(f"  - {key}: {json.dumps(value)}", style="red"), soft_wrap=True)
        for key, (old, new) in d["changed"].items():
            line = f"  ~ {key}: {json.dumps(old)} -> {json.dumps(new)}"
            out.print(Text(line, style="yellow"), soft_wrap=True)


@prompts_app.command("render")
def render(
    name_or_uri: RefArg,
    var: Annotated[PairsOption, typer.Option(
        "--var", help="NAME=VALUE for a template variable (repeatable).")] = None,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="Leave missing variables in place instead of failing.")]
    = False,
    version: VersionOption = None,
    as_json: JsonOption = False,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Fill a version's variables and print the text (a chat prompt as JSON)."""
    values = _pairs(var, "--var")
    clash = sorted(set(values) & {"allow_partial", "use_jinja_sandbox"})
    if clash:
        raise typer.BadParameter(f"{clash[0]!r} is an option of format(), not a variable "
                                 "a template can receive.", param_hint="'--var'")
    with _registry(store, url) as registry:
        found = registry.load_prompt(name_or_uri, version, cache_ttl_seconds=0)
        try:
            result = found.format(allow_partial=allow_partial, **values)
        except MissingVariablesError as exc:
            names = ", ".join(sorted(exc.missing))
            _fail(f"Missing variables: {names}. Pass each with --var NAME=VALUE, or use "
                  "--allow-partial to leave them in place.")
    missing: list[str] = []
    if not isinstance(result, (str, list)):  # a partially formatted PromptVersion
        missing = sorted(result.variables)
        result = result.template
    if as_json:
        _print_json({"result": result, "complete": not missing, "missing": missing})
        return
    typer.echo(result if isinstance(result, str) else json.dumps(result, indent=2,
                                                                  ensure_ascii=False))
    if missing:
        err.print(f"warning: still missing: {escape(', '.join(missing))}", soft_wrap=True)


# --- writing --------------------------------------------------------------------------


@alias_app.command("set")
def alias_set(
    name: NameArg,
    alias: Annotated[str, typer.Argument(help="The alias, e.g. production.")],
    version: Annotated[int, typer.Argument(min=1, help="The version it points at.")],
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Point ALIAS at VERSION (moving it if it is set)."""
    with _registry(store, url) as registry:
        registry.set_prompt_alias(name, alias, version)
    _done(f"{name}@{alias} -> version {version}")


@alias_app.command("delete")
def alias_delete(
    name: NameArg,
    alias: Annotated[str, typer.Argument(help="The alias to remove.")],
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Remove an alias (the version stays)."""
    with _registry(store, url) as registry:
        registry.delete_prompt_alias(name, alias)
    _done(f"Deleted alias {alias!r} of {name!r}.")


def _tag_target(name: str, version: int | None) -> str:
    return f"version {version} of {name!r}" if version is not None else f"prompt {name!r}"


@tag_app.command("set")
def tag_set(
    name: NameArg,
    key: Annotated[str, typer.Argument(help="The tag key.")],
    value: Annotated[str, typer.Argument(help="The tag value.")],
    version: VersionOption = None,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Set a tag on the prompt, or on one version with --version."""
    with _registry(store, url) as registry:
        if version is None:
            registry.set_prompt_tag(name, key, value)
        else:
            registry.set_prompt_version_tag(name, version, key, value)
    _done(f"Set tag {key}={value} on {_tag_target(name, version)}.")


@tag_app.command("delete")
def tag_delete(
    name: NameArg,
    key: Annotated[str, typer.Argument(help="The tag key.")],
    version: VersionOption = None,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Delete a tag from the prompt, or from one version with --version."""
    with _registry(store, url) as registry:
        if version is None:
            registry.delete_prompt_tag(name, key)
        else:
            registry.delete_prompt_version_tag(name, version, key)
    _done(f"Deleted tag {key!r} from {_tag_target(name, version)}.")


@prompts_app.command("delete")
def delete(
    name: NameArg,
    version: VersionOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
    = False,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Delete one version (--version) or the whole prompt; asks first unless --yes."""
    with _registry(store, url) as registry:
        if version is None:
            registry.get_prompt(name)
            question = f"Delete prompt {name!r} with every version, alias and tag?"
        else:
            aliases = registry.get_prompt_version(name, version).aliases
            on_it = f" (and its aliases: {', '.join(aliases)})" if aliases else ""
            question = f"Delete version {version} of {name!r}{on_it}?"
        _confirm(question, yes)
        if version is None:
            registry.delete_prompt(name)
            _done(f"Deleted prompt {name!r}.")
        else:
            removed = registry.delete_prompt_version(name, version)
            gone = f" and the aliases on it ({', '.join(removed)})" if removed else ""
            _done(f"Deleted version {version} of {name!r}{gone}.")


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        _fail(f"{question} Not confirmed: standard input is not a terminal, so nothing was "
              "deleted. Pass --yes to delete without asking.")
    if not typer.confirm(question, default=False):
        _fail("Not confirmed; nothing was deleted.")


# --- export and import ----------------------------------------------------------------


@app.command("export")
def export(
    out_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", "-o", dir_okay=False, help="Write to this .yaml/.yml/.json "
                     "file instead of standard output.", show_default=False),
    ] = None,
    fmt: Annotated[
        Optional[DocFormat],  # noqa: UP045
        typer.Option("--format", help="yaml or json (default: from the --out extension, "
                     "else yaml).", show_default=False),
    ] = None,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Export every prompt with its versions, tags, aliases and model configs."""
    from prompthouse.transfer import dump_document, export_registry, format_for

    chosen = fmt.value if fmt else None
    with _errors():
        format_for(out_file, chosen)  # a bad --out or --format fails before any work
    with _registry(store, url) as registry:
        data = export_registry(registry)
        text = dump_document(data, out_file, chosen)
    if out_file is None:
        typer.echo(text, nl=False)
        return
    count = sum(len(p["versions"]) for p in data["prompts"])
    _done(f"Exported {len(data['prompts'])} prompts ({count} versions) to {out_file}.")


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(
        metavar="FILE", help="A .yaml/.yml/.json export ('-': standard input).")],
    skip_existing: Annotated[bool, typer.Option(
        "--skip-existing", help="Leave prompts that already exist as they are.")] = False,
    store: RegistryStoreOption = None,
    url: UrlOption = None,
) -> None:
    """Import an export into this registry; refuses prompts that already exist."""
    from prompthouse.transfer import import_registry, load_document

    with _errors():
        data = load_document(file)
    with _registry(store, url) as registry:
        summary = import_registry(registry, data, skip_existing=skip_existing)
    _done(f"Imported {summary['prompts']} prompts ({summary['versions']} versions, "
          f"{summary['aliases']} aliases) from {file}.")
    for skipped in summary["skipped"]:
        _done(f"Skipped {skipped['name']!r}: {skipped['reason']}.")


@app.command("migrate")
def migrate(
    from_uri: Annotated[str, typer.Option(
        "--from", help="The store to copy from: sqlite:///..., postgresql://..., "
        "mlflow+http(s)://...")],
    to_uri: Annotated[str, typer.Option(
        "--to", help="The store to copy into (same forms).")],
) -> None:
    """Copy every prompt, version, alias and tag from one store to another.

    Resumable: a prompt the target already holds is skipped, one it holds the first
    versions of is completed, any other difference is reported as a conflict (see the
    README). Into MLflow, versions after a gap are renumbered (listed at the end).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from prompthouse.migrate import list_prompts, migrate_registry

    with _registry(from_uri, None) as source, _registry(to_uri, None) as target, _errors():
        prompts = list_prompts(source)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("Migrating prompts", total=len(prompts))
            summary = migrate_registry(
                source, target, prompts=prompts,
                on_prompt=lambda r: progress.update(task, advance=1, description=r.name),
            )
    _done(f"Migrated {source.uri} -> {target.uri}: {summary.count('copied')} prompts copied "
          f"({summary.versions} versions, {summary.aliases} aliases written), "
          f"{summary.count('completed')} completed, {summary.count('present')} already "
          f"present, {summary.count('empty')} without live versions skipped, "
          f"{summary.count('conflict')} conflicts, {summary.count('failed')} failed.")
    for r in summary.results:
        if r.renumbered:
            pairs = ", ".join(f"{s}->{t}" for s, t in sorted(r.renumbered.items()))
            _done(f"Renumbered {r.name!r} (the target numbers versions itself): {pairs}; "
                  "aliases follow their versions.")
        if r.outcome in ("conflict", "failed"):
            _done(f"{r.outcome.capitalize()}: {r.name!r}: {r.reason}")
    if summary.stopped:
        _done(f"Stopped: {summary.stopped} Run the same command again to resume.")
    if not summary.ok:
        raise typer.Exit(1)


def run() -> None:
    app()
