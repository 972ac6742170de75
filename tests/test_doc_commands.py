"""Every `attnhw …` and `python -m attnhw.tools …` command line in README.md and docs/
names a subcommand and flags that its command line's own parser has, with values among the flag's choices where it declares
them: a renamed flag, subcommand or choice fails here, not in a reader's shell.
Synopses (``[params]``, ``N``, ``a|b``) are checked flag by flag."""

import pathlib
import re

import pytest

from attnhw import cli
from attnhw.tools import cli as tools_cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def doc_commands():
    """``(page, command)`` for inline code spans and code-block lines that start with
    ``attnhw `` or ``python -m attnhw.tools `` (a span may wrap over lines)."""
    found = []
    for page in PAGES:
        text = page.read_text()
        blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
        for block in blocks:
            for line in block.splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith(("attnhw ", TOOLS)):
                    found.append((page.name, line.split("  #")[0].split(" #")[0]))
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for span in re.findall(r"`((?:attnhw|python -m attnhw\.tools) [^`]+)`", prose):
            found.append((page.name, " ".join(span.split())))
    return found


TOOLS = "python -m attnhw.tools "


def _subparsers(command):
    parser = tools_cli.parser() if command.startswith(TOOLS) else cli.parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return parser, action.choices


COMMANDS = [(page, c) for page, c in doc_commands()
            if not re.match(r"(attnhw|python -m attnhw\.tools) \w[\w-]*:", c)]


def test_the_docs_have_commands_to_check():
    assert len(COMMANDS) > 60


@pytest.mark.parametrize("page,command", COMMANDS, ids=[f"{p}:{c[:60]}" for p, c in COMMANDS])
def test_doc_command_matches_the_parser(page, command):
    parser, subs = _subparsers(command)
    tokens = command.removeprefix(TOOLS).split()[int(not command.startswith(TOOLS)):]
    if tokens[0].startswith("-"):
        assert tokens[0] in parser._option_string_actions, f"{page}: {command}"
        return
    for name in tokens[0].split("|"):                # a synopsis may name several
        assert name in subs, f"{page}: no subcommand {name!r} in {command!r}"
        sub, rest = subs[name], tokens
        nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
        if nested:                                    # `attnhw board build ...`
            assert len(tokens) > 1 and tokens[1] in nested[0].choices, \
                f"{page}: {name} needs one of {sorted(nested[0].choices)} ({command!r})"
            sub, rest = nested[0].choices[tokens[1]], tokens[1:]
        _check_flags(page, command, name, sub._option_string_actions, rest)


def _check_flags(page, command, name, options, tokens):
    for n, token in enumerate(tokens[1:], 1):
        flag = token.strip("[]").split("=")[0]
        if not flag.startswith("--"):
            continue
        assert flag in options, f"{page}: {name} has no {flag} ({command!r})"
        choices = options[flag].choices
        if choices and n + 1 < len(tokens):
            value = tokens[n + 1].strip("[]")
            if re.fullmatch(r"[A-Z]+|\.\.\.|…", value):
                continue                                 # a placeholder
            for alternative in value.split("|"):
                assert alternative in choices, \
                    f"{page}: {flag} {alternative!r} is not among {sorted(choices)}"
