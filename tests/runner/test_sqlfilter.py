"""The SQL filter: drops exactly the statements a non-superuser cannot run, nothing else."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odoo_operator.runner.errors import JobError
from odoo_operator.runner.sqlfilter import SqlFilter

DUMP = b"""--
-- PostgreSQL database dump
--

\\restrict abcDEF123

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';
CREATE FUNCTION public.grant_all() RETURNS void
    LANGUAGE plpgsql
    AS $body$
BEGIN
GRANT SELECT ON x TO y;
REVOKE ALL ON x FROM y;
END;
$body$;
ALTER FUNCTION public.grant_all() OWNER TO odoo;
CREATE TABLE public.res_users (
    id integer NOT NULL,
    login character varying,
    note text DEFAULT 'GRANT; REVOKE; it''s ; fine'::text,
    "weird;name" text,
    e text DEFAULT E'\\'; GRANT x;'
);
ALTER TABLE public.res_users OWNER TO "odoo.ns.name";
COMMENT ON TABLE public.res_users IS 'Users; GRANT-free
    and multi-line';
/* a block comment; GRANT inside /* nested; */ still comment */
COPY public.res_users (id, login, note, "weird;name", e) FROM stdin;
1\tGRANT ALL ON everything TO everyone;\tREVOKE\t\\\\.\t-- not a comment
2\tadmin\t\\N\t$$\t'
\\.
ALTER DEFAULT PRIVILEGES FOR ROLE odoo IN SCHEMA public GRANT SELECT ON TABLES TO PUBLIC;
REVOKE USAGE ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO PUBLIC;
SELECT pg_catalog.setval('public.res_users_id_seq', 2, true); -- trailing comment
--
-- PostgreSQL database dump complete
--

\\unrestrict abcDEF123

"""

# Each dropped statement leaves its line's newline behind; everything else is unchanged.
DROPPED = (
    b"COMMENT ON EXTENSION",
    b"ALTER FUNCTION public.grant_all() OWNER",
    b"ALTER TABLE public.res_users OWNER",
    b"ALTER DEFAULT PRIVILEGES",
    b"REVOKE USAGE",
    b"GRANT ALL ON SCHEMA",
)
EXPECTED = b"\n".join(b"" if line.startswith(DROPPED) else line for line in DUMP.split(b"\n"))


def run(chunks: list[bytes]) -> tuple[bytes, SqlFilter]:
    out: list[bytes] = []
    sql = SqlFilter(out.append)
    for chunk in chunks:
        sql.feed(chunk)
    sql.close()
    return b"".join(out), sql


def test_drops_only_what_a_non_superuser_cannot_run() -> None:
    output, sql = run([DUMP])
    assert output == EXPECTED
    assert sql.complete
    assert dict(sql.dropped) == {
        "COMMENT ON EXTENSION": 1,
        "ALTER ... OWNER TO": 2,
        "ALTER DEFAULT PRIVILEGES": 1,
        "REVOKE": 1,
        "GRANT": 1,
    }


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=1, max_value=len(DUMP) - 1), max_size=12))
def test_any_chunking_gives_the_same_output(cuts: list[int]) -> None:
    bounds = [0, *sorted(set(cuts)), len(DUMP)]
    output, sql = run([DUMP[a:b] for a, b in itertools.pairwise(bounds)])
    assert output == EXPECTED
    assert sql.complete


def test_copy_data_streams_in_bounded_pieces() -> None:
    """A huge COPY row is passed on as it arrives, not held until its end."""
    out: list[bytes] = []
    sql = SqlFilter(out.append)
    sql.feed(b"COPY public.t (x) FROM stdin;\n")
    for _ in range(10):
        sql.feed(b"a" * 100_000)
    assert sum(map(len, out)) >= 900_000
    sql.feed(b"\n\\.\n-- PostgreSQL database dump complete\n")
    sql.close()
    assert sql.complete


def test_a_dump_cut_before_its_completion_line_is_not_complete() -> None:
    _output, sql = run([DUMP[: DUMP.index(b"-- PostgreSQL database dump complete")]])
    assert not sql.complete


@pytest.mark.parametrize(
    "cut_after",
    [b"CREATE TABLE public.res_users (\n", b"COPY public.res_users", b"1\tGRANT ALL", b"$body$\n"],
)
def test_a_dump_cut_inside_a_statement_or_copy_is_refused(cut_after: bytes) -> None:
    end = DUMP.index(cut_after) + len(cut_after)
    with pytest.raises(JobError, match="truncated"):
        run([DUMP[:end]])


@pytest.mark.parametrize(
    "line",
    [
        b"\\connect other\n",
        b"\\! rm -rf /\n",
        b"\\copy t from '/etc/passwd'\n",
        b"  \\c postgres\n",
    ],
)
def test_meta_commands_other_than_restrict_are_refused(line: bytes) -> None:
    with pytest.raises(JobError, match="meta-command"):
        run([b"SET x = 1;\n" + line])


@pytest.mark.parametrize(
    "statement",
    [
        b"CREATE DATABASE odoo WITH TEMPLATE = template0;\n",
        b"ALTER DATABASE odoo SET search_path TO public;\n",
        b"drop   database\nodoo;\n",
    ],
)
def test_statements_on_other_databases_are_refused(statement: bytes) -> None:
    with pytest.raises(JobError, match="database"):
        run([statement])


def test_a_meta_command_inside_a_string_is_data() -> None:
    output, _ = run([b"SELECT 'a\n\\connect x\n';\n-- PostgreSQL database dump complete\n"])
    assert b"\\connect x" in output


def test_dollar_signs_in_identifiers_and_parameters_are_not_quotes() -> None:
    kept = b"SELECT 1 AS a$b$c, $1, $$x;$$;\n"
    output, sql = run([kept + b"GRANT x TO y;\n"])
    assert output == kept + b"\n"
    assert sql.dropped["GRANT"] == 1
