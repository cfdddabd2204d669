"""The simulated Odoo: what an Odoo-image container runs in the sandbox.

`python -m odoo_operator.sandbox.podsim.odoo --image IMAGE --mounts JSON -- WORDS...`,
WORDS being the container's command and args (paths already on the host). Every line
it writes starts with `simulated Odoo:`. It understands the Odoo command lines the
operator runs:

- `odoo ... -i MODULES -d DB --stop-after-init`: create the database (as the role of the
  odoo.conf, which needs CREATEDB) with a small Odoo-shaped schema and the modules
  installed (see `odoo_schema`), and the database's filestore directory; exit 0;
- `odoo ... -u MODULES|all [-i MODULES] -d DB --stop-after-init`: bump the listed
  installed modules' `latest_version` (and install `-i` ones); exit 0;
- `odoo neutralize -d DB`: set `database.is_neutralized` to 'True'; exit 0;
- `odoo ...` (web, or cron with `--no-http`): say it serves, open no port, run until
  SIGTERM, exit 0 (no odoo.conf needed: it never connects).

Connection settings come from the odoo.conf (`-c`, else `$ODOO_RC`, else
`/etc/odoo/odoo.conf`, translated through the mounts): `db_host`, `db_port`, `db_user`,
`db_password`, `db_name`, `data_dir`; `-d`, `--db_host`, `--db_port`, `-r`, `-w` override.
The series (`17.0`) comes from the image tag, `18.0` when the tag has none.

`SANDBOX_FAIL` (comma-separated `init`, `upgrade`, `neutralize`) makes that step fail
with exit 1 before it touches the database: the kubectl-only way to try failure paths
(`spec.extraEnv` of an OdooInstance reaches every Odoo container). `upgrade-midway`
instead fails an upgrade with exit 1 after its changes were committed, as a migration
that breaks half-way leaves a database (what a rollback must undo). Any other command
exits 127 saying it cannot be simulated.
"""

from __future__ import annotations

import argparse
import asyncio
import configparser
import json
import os
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from odoo_operator.sandbox.podsim.odoo_schema import Database, Settings, SimulationError

DEFAULT_SERIES = "18.0"
DEFAULT_CONFIG = "/etc/odoo/odoo.conf"
FAIL_VARIABLE = "SANDBOX_FAIL"
MIDWAY = "upgrade-midway"  # SANDBOX_FAIL: the upgrade commits its changes, then fails
ODOO_EXECUTABLES = {"odoo", "odoo-bin", "odoo.py", "openerp-server"}
ENTRYPOINTS = {"entrypoint.sh"}
EXIT_UNSUPPORTED = 127
# Options that take a value, by every spelling; `--x=value` works for any option.
VALUE_OPTIONS = {
    "-c": "config",
    "--config": "config",
    "-d": "database",
    "--database": "database",
    "-i": "init",
    "--init": "init",
    "-u": "update",
    "--update": "update",
    "--db_host": "db_host",
    "--db_port": "db_port",
    "-r": "db_user",
    "--db_user": "db_user",
    "-w": "db_password",
    "--db_password": "db_password",
    "-D": "data_dir",
    "--data-dir": "data_dir",
}


# Command-line options that override odoo.conf (by their odoo.conf names).
OVERRIDES = {"db_host", "db_port", "db_user", "db_password", "database", "data_dir"}
SECRET_OPTIONS = {"-w", "--db_password", "--admin_passwd"}


def say(message: str, *, error: bool = False) -> None:
    print(f"simulated Odoo: {message}", file=sys.stderr if error else sys.stdout, flush=True)


@dataclass
class OdooCommand:
    """An Odoo command line, parsed as far as the simulation needs."""

    subcommand: str = "server"
    options: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def one_shot(self) -> bool:
        return "--stop-after-init" in self.flags or self.subcommand == "neutralize"

    def modules(self, option: str) -> list[str]:
        raw = self.options.get(option, "")
        return [name.strip() for name in raw.split(",") if name.strip()]


def parse_command(words: Sequence[str]) -> OdooCommand:
    """Odoo's argv (entrypoint and executable optional); `SimulationError` for anything else."""
    rest = list(words)
    if rest and Path(rest[0]).name in ENTRYPOINTS:
        rest.pop(0)
    if rest and Path(rest[0]).name in ODOO_EXECUTABLES:
        rest.pop(0)
    elif rest and not rest[0].startswith("-"):
        raise SimulationError(f"cannot simulate command {rest[0]!r}: only odoo is simulated")
    command = OdooCommand()
    if rest and not rest[0].startswith("-"):
        command.subcommand = rest.pop(0)
        if command.subcommand not in ("server", "neutralize"):
            raise SimulationError(f"cannot simulate `odoo {command.subcommand}`")
    while rest:
        word = rest.pop(0)
        if "=" in word and word.startswith("--"):
            name, _, value = word.partition("=")
            command.options[VALUE_OPTIONS.get(name, name)] = value
        elif word in VALUE_OPTIONS:
            if not rest:
                raise SimulationError(f"option {word} needs a value")
            command.options[VALUE_OPTIONS[word]] = rest.pop(0)
        elif word.startswith("-") and rest and not rest[0].startswith("-"):
            command.options[word] = rest.pop(0)  # an option we ignore, with its value
        else:
            command.flags.add(word)
    return command


def series_of(image: str) -> str:
    """`17.0` for `odoo:17.0`, `odoo:17`, `registry/odoo:17.0-20240101`; else the default."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    match = re.match(r"^(?:saas-)?(\d+)(?:\.(\d+))?", tag)
    if not match:
        return DEFAULT_SERIES
    return f"{match.group(1)}.{match.group(2) or 0}"


def _translate(path: str, mounts: Mapping[str, str]) -> str:
    for container_path in sorted(mounts, key=len, reverse=True):
        if path == container_path or path.startswith(container_path + "/"):
            return mounts[container_path] + path[len(container_path) :]
    return path


def load_settings(command: OdooCommand, mounts: Mapping[str, str]) -> Settings:
    """odoo.conf's connection settings, overridden by the command line's."""
    conf_path = command.options.get("config") or os.environ.get("ODOO_RC") or DEFAULT_CONFIG
    conf_path = _translate(conf_path, mounts)
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(conf_path):
        raise SimulationError(f"no odoo.conf at {conf_path}")
    conf = dict(parser["options"]) if parser.has_section("options") else {}
    merged = conf | {k: v for k, v in command.options.items() if k in OVERRIDES}
    missing = [k for k in ("db_host", "db_user", "db_password") if not merged.get(k)]
    if missing:
        raise SimulationError(f"{', '.join(missing)} missing in {conf_path}")
    data_dir = merged.get("data_dir")
    return Settings(
        host=merged["db_host"],
        port=int(merged.get("db_port") or 5432),
        user=merged["db_user"],
        password=merged["db_password"],
        database=merged.get("database") or merged.get("db_name") or "",
        data_dir=_translate(data_dir, mounts) if data_dir else None,
    )


def _failing(step: str) -> bool:
    wanted = {part.strip() for part in os.environ.get(FAIL_VARIABLE, "").split(",")}
    return step in wanted


async def _serve(command: OdooCommand, mounts: Mapping[str, str]) -> None:
    """Run until SIGTERM; a server needs no odoo.conf to be up (nor does Odoo's /web/health)."""
    role = "cron worker" if "--no-http" in command.flags else "web server"
    try:
        database = load_settings(command, mounts).database
    except SimulationError as error:
        say(f"{error}; serving all the same")
        database = command.options.get("database", "")
    say(f"{role} for database {database!r} running (no Odoo here: no port is opened)")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    say(f"{role} stopping")


async def simulate(command: OdooCommand, image: str, mounts: Mapping[str, str]) -> None:
    install = command.modules("init")
    update = command.modules("update")
    neutralize = command.subcommand == "neutralize"
    if install or update or neutralize:
        step = "neutralize" if neutralize else "upgrade" if update else "init"
        if _failing(step):
            raise SimulationError(f"failing on purpose ({FAIL_VARIABLE} includes {step})")
        settings = load_settings(command, mounts)
        if not settings.database:
            raise SimulationError("no database: give -d or db_name in odoo.conf")
        database = Database(settings, series_of(image), say)
        if neutralize:
            await database.neutralize()
        elif update:
            await database.upgrade(update, install)
            if _failing(MIDWAY):
                raise SimulationError(f"failing on purpose after the upgrade's changes "
                                      f"({FAIL_VARIABLE} includes {MIDWAY})")  # fmt: skip
        else:
            await database.install(install)
    if not command.one_shot:
        await _serve(command, mounts)


def shown(words: Sequence[str]) -> str:
    """The command line for the log, with password values hidden."""
    out: list[str] = []
    hide_next = False
    for word in words:
        name = word.partition("=")[0]
        if hide_next:
            out.append("***")
        elif name in SECRET_OPTIONS and "=" in word:
            out.append(f"{name}=***")
        else:
            out.append(word)
        hide_next = word in SECRET_OPTIONS
    return " ".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m odoo_operator.sandbox.podsim.odoo")
    parser.add_argument("--image", required=True)
    parser.add_argument("--mounts", default="{}", help="JSON: container path -> host path")
    parser.add_argument("words", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    words = options.words[1:] if options.words[:1] == ["--"] else options.words
    say(f"{shown(words)} (image {options.image})")
    try:
        command = parse_command(words)
        asyncio.run(simulate(command, options.image, json.loads(options.mounts)))
    except SimulationError as error:
        say(str(error), error=True)
        return EXIT_UNSUPPORTED if str(error).startswith("cannot simulate") else 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
