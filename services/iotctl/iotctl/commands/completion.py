"""`completion bash|zsh|fish`: the shell script from click's own completion machinery.

The script calls `iotctl` again with `_IOTCTL_COMPLETE` set, and click answers with the
matching commands and options; see the README for where to install it.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")
PROG_NAME = "iotctl"
COMPLETE_VAR = "_IOTCTL_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash:  eval "$(iotctl completion bash)"    in ~/.bashrc
    zsh:   eval "$(iotctl completion zsh)"     in ~/.zshrc (after compinit)
    fish:  iotctl completion fish > ~/.config/fish/completions/iotctl.fish
    """
    shell_class = get_completion_class(shell)
    if shell_class is None:  # not reachable with click's three built-in shells
        raise click.UsageError(f"no completion for {shell}")
    script = shell_class(ctx.find_root().command, {}, PROG_NAME, COMPLETE_VAR).source()
    click.echo(script)
