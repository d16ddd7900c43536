"""docs/settings.md, written from `Settings` itself so that no setting goes undocumented.

    python -m config.settings_doc           rewrite docs/settings.md
    python -m config.settings_doc --check   exit 1 if docs/settings.md is out of date

Each setting's description is its `Field(description=...)` or else the comments written
beside it in config/settings.py (the lines just above the field and the one on its line):
the comment a maintainer reads is the sentence an operator reads.
"""

import argparse
import ast
import io
import sys
import tokenize
import types
import typing
from pathlib import Path

from pydantic import SecretStr

from config import settings as settings_module
from config.settings import Settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
SOURCE = Path(settings_module.__file__)

HEADER = """\
# Settings

Every setting of the OMS, read from the environment by every process (API, workers, `oms`
commands) with the prefix `OMS_`. Written from `config/settings.py` by
`python -m config.settings_doc`; `tests/config/test_settings_doc.py` fails while this page
differs from it. What `OMS_ENV=prod` requires, the production shape and Temporal's own
connection variables are in [operations.md](operations.md).

Secrets never show a value here, nor in a log, a repr or an error: their defaults are
empty, and `make run` makes development ones (kept in `.data/dev-secrets.json`).

| setting | type | default | what |
|---|---|---|---|
"""


def field_comments(source: str) -> dict[str, str]:
    """The comments written beside each field of `Settings`, joined into one text."""
    comments: dict[int, tuple[str, bool]] = {}  # line -> (text, alone on its line)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            alone = not token.line[: token.start[1]].strip()
            comments[token.start[0]] = (token.string.lstrip("#").strip(), alone)
    [settings_class] = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == Settings.__name__
    ]
    found: dict[str, str] = {}
    for statement in settings_class.body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        above: list[str] = []
        line = statement.lineno - 1
        while line in comments and comments[line][1]:
            above.insert(0, comments[line][0])
            line -= 1
        inline = comments.get(statement.lineno)
        if inline and not inline[1]:
            above.append(inline[0])
        found[statement.target.id] = " ".join(above)
    return found


def type_name(annotation: object) -> str:
    if annotation is SecretStr:
        return "secret"
    if typing.get_origin(annotation) is typing.Literal:
        return " or ".join(f"`{value}`" for value in typing.get_args(annotation))
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " or ".join(type_name(arg) for arg in typing.get_args(annotation))
    names = {str: "text", int: "integer", float: "number", bool: "boolean", Path: "path"}
    if isinstance(annotation, type) and annotation in names:
        return names[annotation]
    return f"`{getattr(annotation, '__name__', annotation)}`"


def default_text(default: object) -> str:
    # A secret's default is never printed, whatever it holds: only whether there is one.
    if isinstance(default, SecretStr):
        return "empty" if not default.get_secret_value() else "set"
    if default is None or default == "":
        return "empty"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def render() -> str:
    """docs/settings.md as `Settings` and its comments say it should be."""
    comments = field_comments(SOURCE.read_text())
    prefix = Settings.model_config.get("env_prefix", "")
    rows = []
    for name, field in Settings.model_fields.items():
        description = field.description or comments.get(name, "")
        what = description.replace("|", "\\|")
        rows.append(
            f"| `{prefix}{name.upper()}` | {type_name(field.annotation)} "
            f"| {default_text(field.default)} | {what} |\n"
        )
    return HEADER + "".join(rows)


def undocumented() -> list[str]:
    """Settings with neither a description nor a comment."""
    comments = field_comments(SOURCE.read_text())
    return [
        name
        for name, field in Settings.model_fields.items()
        if not (field.description or comments.get(name))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.settings_doc", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.exists() and DOC.read_text() == text
        sys.stderr.write(
            "docs/settings.md is current\n"
            if current
            else "docs/settings.md is out of date: run python -m config.settings_doc\n"
        )
        return 0 if current else 1
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
