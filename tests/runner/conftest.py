"""The job runner's world: the session's PostgreSQL and S3, and the real CLI in a subprocess.

`world` gives each test a fresh bucket and a fresh non-superuser role (LOGIN CREATEDB, as
the operator gives each instance), and helpers to run `odoo-operator job ...` as that role,
build Odoo-like databases and filestores, and fingerprint both.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from odoo_operator.runner.pgtools import quote_identifier as qi
from odoo_operator.sandbox.postgres import PostgresServer
from odoo_operator.sandbox.s3 import S3Server

JOB_TIMEOUT = 240


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Odoo's shape in small: the tables the issue names, unicode, bytea, large rows, and the
# objects a dump carries besides rows (extension, index, view, function, comments).
ODOO_SCHEMA = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE ir_module_module (
    id serial PRIMARY KEY, name varchar NOT NULL UNIQUE, state varchar,
    latest_version varchar);
INSERT INTO ir_module_module (name, state, latest_version) VALUES
    ('base', 'installed', '17.0.1.3'), ('web', 'installed', '17.0.1.0'),
    ('sale', 'installed', '17.0.1.2'), ('stock', 'uninstalled', NULL);
CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar UNIQUE NOT NULL, value text);
INSERT INTO ir_config_parameter (key, value) VALUES
    ('database.uuid', md5('uuid')), ('web.base.url', 'http://localhost:8069'),
    ('database.secret', md5('secret'));
CREATE TABLE res_users (
    id serial PRIMARY KEY, login varchar UNIQUE NOT NULL, password varchar, name jsonb,
    signature text, active boolean DEFAULT true, create_date timestamp DEFAULT now());
COMMENT ON TABLE res_users IS 'Users; with a semicolon';
INSERT INTO res_users (login, password, name, signature) VALUES
    ('admin', '$pbkdf2-sha512$600000$abc', '{"en_US": "Administrator", "fr_FR": "Administrateur"}',
     E'<p>GRANT ALL;\n\\.\nREVOKE</p>'),
    ('zoë', NULL, '{"en_US": "Zoë Ñandú 日本語 🎉"}', E'tab\tand\\backslash');
CREATE INDEX res_users_login_trgm ON res_users USING gin (login gin_trgm_ops);
CREATE TABLE ir_attachment (
    id serial PRIMARY KEY, name varchar, store_fname varchar, db_datas bytea,
    checksum varchar, file_size integer, mimetype varchar);
INSERT INTO ir_attachment (name, store_fname, db_datas, file_size, mimetype)
SELECT 'attachment ' || i, 'ab/' || md5(i::text), NULL, i * 100, 'application/pdf'
FROM generate_series(1, 200) AS i;
INSERT INTO ir_attachment (name, db_datas, file_size)
SELECT 'in database', decode(string_agg(md5(i::text), ''), 'hex'), 640000
FROM generate_series(1, 40000) AS i;
CREATE TABLE large_rows (id integer PRIMARY KEY, body text, blob bytea);
INSERT INTO large_rows
SELECT 1, string_agg(md5(i::text), ' '), decode(string_agg(md5((-i)::text), ''), 'hex')
FROM generate_series(1, 60000) AS i;
CREATE VIEW active_users AS SELECT id, login FROM res_users WHERE active;
CREATE FUNCTION touch_users() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- GRANT SELECT ON res_users TO nobody; is text here
    NEW.create_date := now();
    RETURN NEW;
END;
$body$;
CREATE TRIGGER res_users_touch BEFORE UPDATE ON res_users
    FOR EACH ROW EXECUTE FUNCTION touch_users();
GRANT CREATE ON SCHEMA public TO PUBLIC;
GRANT SELECT ON active_users TO PUBLIC;
"""


def make_filestore(root: Path) -> Path:
    """Nested directories, binary files, an empty file, names with spaces and unicode."""
    root.mkdir(parents=True)
    for index in range(40):
        digest = hashlib.sha1(str(index).encode(), usedforsecurity=False).hexdigest()
        path = root / digest[:2] / digest
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(1000 + index * 997))
    (root / "deep" / "er" / "still").mkdir(parents=True)
    (root / "deep" / "er" / "still" / "big.bin").write_bytes(os.urandom(3_000_000))
    (root / "deep" / "empty").write_bytes(b"")
    (root / "with space ünï.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(5000))
    return root


def tree_fingerprint(root: Path, detailed: bool = False) -> dict[str, Any]:
    """sha256 of every file under root; with `detailed`, also modes, owners, times, dirs."""
    found: dict[str, Any] = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        info = path.lstat()
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[relative] = (
                (digest, info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns)
                if detailed
                else digest
            )
        elif detailed:
            found[relative + "/"] = (info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns)
    return found


# Catalog queries of `World.fingerprint`, one line per object: `what name|properties`.
_USER_SCHEMA = (
    "{0} NOT IN ('pg_catalog', 'information_schema') "
    "AND {0} NOT LIKE 'pg\\_toast%' AND {0} NOT LIKE 'pg\\_temp%'"
)
_IN_USER_SCHEMA = _USER_SCHEMA.format("{0}::regnamespace::text")
FINGERPRINT_SETTINGS_SQL = """
SELECT 'database', pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate,
       datctype, datallowconn, datconnlimit, datistemplate
FROM pg_database WHERE datname = current_database();
"""
FINGERPRINT_SQL = f"""
SELECT 'schema ' || nspname, pg_get_userbyid(nspowner) FROM pg_namespace
WHERE {_USER_SCHEMA.format("nspname")} ORDER BY 1;
SELECT 'extension ' || extname, extversion, pg_get_userbyid(extowner), extnamespace::regnamespace
FROM pg_extension ORDER BY 1;
SELECT 'relation ' || c.oid::regclass, c.relkind, pg_get_userbyid(c.relowner),
       (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                          || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                          || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                          ', ' ORDER BY a.attnum)
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       CASE WHEN c.relkind IN ('v', 'm') THEN md5(pg_get_viewdef(c.oid))
            WHEN c.relkind IN ('i', 'I') THEN pg_get_indexdef(c.oid) END
FROM pg_class c WHERE {_IN_USER_SCHEMA.format("c.relnamespace")} ORDER BY 1;
SELECT 'sequence ' || format('%I.%I', schemaname, sequencename), last_value, start_value,
       increment_by, max_value, cycle
FROM pg_sequences ORDER BY 1;
SELECT 'constraint ' || conrelid::regclass || ' ' || conname, contype,
       pg_get_constraintdef(oid)
FROM pg_constraint WHERE {_IN_USER_SCHEMA.format("connamespace")} ORDER BY 1;
SELECT 'function ' || p.oid::regprocedure, p.prokind, pg_get_userbyid(p.proowner),
       CASE WHEN p.prokind IN ('f', 'p') THEN md5(pg_get_functiondef(p.oid)) END
FROM pg_proc p WHERE {_IN_USER_SCHEMA.format("p.pronamespace")} ORDER BY 1;
SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname, md5(pg_get_triggerdef(oid))
FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1;
SELECT 'type ' || t.oid::regtype, t.typtype, pg_get_userbyid(t.typowner) FROM pg_type t
WHERE {_IN_USER_SCHEMA.format("t.typnamespace")} AND t.typcategory <> 'A' ORDER BY 1;
SELECT 'comment on ' || pg_describe_object(classoid, objoid, objsubid), md5(description)
FROM pg_description WHERE objoid >= 16384 ORDER BY 1;
SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, chr(10) '
              'ORDER BY t::text), %L)) FROM %s t', 'rows ' || c.oid::regclass, '', c.oid::regclass)
FROM pg_class c WHERE c.relkind IN ('r', 'p') AND {_IN_USER_SCHEMA.format("c.relnamespace")}
ORDER BY 1 \\gexec
"""  # noqa: S608 - our constants only


def owner_neutral(fingerprint: dict[str, str], *owners: str) -> dict[str, str]:
    """A fingerprint with the roles `owners` written as OWNER, to compare databases whose
    objects different roles own (a backup made as one role, restored as another)."""
    return {
        key: "|".join("OWNER" if field in owners else field for field in value.split("|"))
        for key, value in fingerprint.items()
    }


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        lines = self.stderr.splitlines()
        assert len(lines) == 1, f"expected one stderr line, got: {self.stderr!r}"
        return lines[0]


def run_psql(
    pg: PostgresServer,
    database: str,
    sql: str,
    *,
    user: str | None = None,
    password: str | None = None,
) -> str:
    """Run SQL with psql (ON_ERROR_STOP); as the superuser unless a role is given."""
    environment = {**os.environ, **pg.libpq_env(), "PGDATABASE": database}
    if user is not None:
        environment["PGUSER"] = user
        environment["PGPASSWORD"] = password or ""
    result = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
        input=sql,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@dataclass
class Running:
    process: subprocess.Popen[str]

    def finish(self, timeout: float = JOB_TIMEOUT) -> Result:
        stdout, stderr = self.process.communicate(timeout=timeout)
        return Result(self.process.returncode, stdout, stderr)

    def stop(self) -> None:
        """Kill it if still running (test cleanup)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """Poll `condition` until true; generous deadline for a loaded machine."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class World:
    pg: PostgresServer
    s3: S3Server
    tmp: Path
    bucket: str = field(default_factory=lambda: f"t-{secrets.token_hex(6)}")
    role: str = field(default_factory=lambda: f"odoo.t.{secrets.token_hex(4)}")
    role_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def __post_init__(self) -> None:
        self.client = boto3.client(
            "s3",
            endpoint_url=self.s3.endpoint,
            region_name=self.s3.region,
            aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key,
        )
        self.client.create_bucket(Bucket=self.bucket)
        self.admin_sql(
            f"CREATE ROLE {qi(self.role)} LOGIN CREATEDB PASSWORD {literal(self.role_password)}"
        )

    # --- PostgreSQL -----------------------------------------------------------------
    def psql(
        self, database: str, sql: str, *, user: str | None = None, password: str | None = None
    ) -> str:
        return run_psql(self.pg, database, sql, user=user, password=password)

    def admin_sql(self, sql: str, database: str = "postgres") -> str:
        return self.psql(database, sql)

    def role_sql(self, database: str, sql: str) -> str:
        return self.psql(database, sql, user=self.role, password=self.role_password)

    def server_major(self) -> int:
        """The PostgreSQL server's major version, as the tests must not assume one."""
        return int(self.admin_sql("SHOW server_version_num")) // 10000

    def databases(self) -> set[str]:
        return set(self.admin_sql("SELECT datname FROM pg_database").splitlines())

    def create_odoo_database(self, name: str, *, as_superuser: bool = False) -> str:
        """As the test's role, or as the superuser (then it owns the database too)."""
        if as_superuser:
            self.admin_sql(f"CREATE DATABASE {qi(name)}")
            self.admin_sql(ODOO_SCHEMA, name)
        else:
            self.admin_sql(f"CREATE DATABASE {qi(name)} OWNER {qi(self.role)}")
            self.role_sql(name, ODOO_SCHEMA)
        return name

    def fingerprint(self, database: str, *, settings: bool = True) -> dict[str, str]:
        """Everything a restore must keep or carry, read from the catalogs.

        Rows of every table, every sequence's state, the definition and owner of every
        schema, extension, relation (table, view, index, sequence, type), constraint,
        function, trigger and comment. With `settings`, also the database's own row of
        pg_database (owner, encoding, collation, connection setting), which a restore into
        another database does not carry.
        """
        script = FINGERPRINT_SQL
        if settings:
            script = FINGERPRINT_SETTINGS_SQL + script
        found: dict[str, str] = {}
        for line in self.admin_sql(script, database).splitlines():
            key, _, value = line.partition("|")
            assert key not in found, f"fingerprint key {key!r} twice"
            found[key] = value
        assert any(key.startswith("rows ") for key in found), f"no tables in {database}"
        return found

    def drop_everything(self) -> None:
        """Drop the role and every database it owns (the session's server is shared)."""
        owned = self.admin_sql(
            "SELECT quote_ident(datname) FROM pg_database d "  # noqa: S608 - a quoted literal
            f"JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = {literal(self.role)}"
        ).splitlines()
        for database in owned:
            self.admin_sql(f"DROP DATABASE {database} WITH (FORCE)")
        self.admin_sql(f"DROP ROLE {qi(self.role)}")

    # --- S3 -------------------------------------------------------------------------
    def keys(self) -> list[str]:
        answer = self.client.list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in answer.get("Contents", [])]

    def pending_uploads(self) -> list[str]:
        answer = self.client.list_multipart_uploads(Bucket=self.bucket)
        return [item["Key"] for item in answer.get("Uploads", [])]

    def uploaded_parts(self, client: Any = None) -> int:
        """Parts uploaded so far across the bucket's pending multipart uploads."""
        client = client or self.client
        count = 0
        for upload in client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []):
            parts = client.list_parts(
                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            count += len(parts.get("Parts", []))
        return count

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    # --- the CLI --------------------------------------------------------------------
    def job_env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PGHOST": self.pg.host,
            "PGPORT": str(self.pg.port),
            "PGUSER": self.role,
            "PGPASSWORD": self.role_password,
            "AWS_ACCESS_KEY_ID": self.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
            **extra,
        }

    def s3_flags(self, key: str) -> list[str]:
        return ["--endpoint", self.s3.endpoint, "--bucket", self.bucket, "--key", key]

    def job(self, *arguments: str, env: Mapping[str, str] | None = None) -> Result:
        result = subprocess.run(
            [sys.executable, "-m", "odoo_operator", "job", *arguments],
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else self.job_env(),
            timeout=JOB_TIMEOUT,
            check=False,
        )
        return Result(result.returncode, result.stdout, result.stderr)

    def start_job(self, *arguments: str, env: Mapping[str, str] | None = None) -> Running:
        """The runner started in the background, for tests that act while it runs."""
        process = subprocess.Popen(
            [sys.executable, "-m", "odoo_operator", "job", *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env) if env is not None else self.job_env(),
        )
        return Running(process)

    async def job_async(self, *arguments: str, env: Mapping[str, str] | None = None) -> Result:
        """`job` for tests that serve something to the runner from their own event loop."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "odoo_operator",
            "job",
            *arguments,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else self.job_env(),
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), JOB_TIMEOUT)
        assert process.returncode is not None
        return Result(process.returncode, stdout.decode(), stderr.decode())

    def backup(self, database: str, key: str, fmt: str, *extra: str) -> Result:
        return self.job(
            "backup", "--database", database, "--format", fmt, *self.s3_flags(key), *extra
        )

    def restore(self, database: str, key: str, fmt: str, *extra: str) -> Result:
        return self.job(
            "restore", "--database", database, "--format", fmt, *self.s3_flags(key), *extra
        )

    def leftovers(self, filestore: Path | None = None) -> list[str]:
        """Temporary or previous databases and filestores any restore left behind."""
        found = sorted(
            name
            for name in self.databases()
            if name.startswith(("odoo_restore_", "odoo_previous_"))
        )
        if filestore is not None and filestore.parent.exists():
            found += sorted(
                p.name
                for p in filestore.parent.iterdir()
                if p.name.startswith(f".{filestore.name}.")
            )
        return found


@pytest.fixture
def world(postgres_server: PostgresServer, s3_server: S3Server, tmp_path: Path) -> Iterator[World]:
    world = World(postgres_server, s3_server, tmp_path)
    yield world
    world.drop_everything()


@pytest.fixture(scope="session")
def big_database(postgres_server: PostgresServer) -> Iterator[str]:
    """About 120 MB of plain dump, readable by every role.

    Backing it up or restoring it takes seconds, long enough for a test to act while the
    runner is in the middle of it.
    """
    name = f"big_{secrets.token_hex(3)}"
    run_psql(postgres_server, "postgres", f"CREATE DATABASE {name}")
    run_psql(
        postgres_server,
        name,
        "CREATE TABLE big (id integer PRIMARY KEY, payload text);"
        "INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 900000) i;"
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC;",
    )
    yield name
    run_psql(postgres_server, "postgres", f"DROP DATABASE {name} WITH (FORCE)")
