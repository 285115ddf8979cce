"""The README documents every command, every option and every setting (sqlite-utils' test_docs)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from kpi_archive import config
from kpi_archive.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(cli.commands.items())


@pytest.mark.parametrize(("name", "command"), COMMANDS)
def test_every_command_has_one_line_help(name: str, command: click.Command) -> None:
    assert command.help, name
    assert command.get_short_help_str(limit=200).strip()


@pytest.mark.parametrize(("name", "command"), COMMANDS)
def test_every_command_is_in_the_readme(name: str, command: click.Command) -> None:
    assert f"kpi-archive {name}" in README


@pytest.mark.parametrize(
    ("name", "option"),
    [
        (name, opt)
        for name, command in COMMANDS
        for param in command.params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--")
    ],
)
def test_every_option_is_in_the_readme(name: str, option: str) -> None:
    assert option in README, f"kpi-archive {name} {option} is not documented"


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme(setting: config.Setting) -> None:
    assert setting.env_var in README
