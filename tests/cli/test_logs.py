"""Logging set-up: text and json on stderr, level filtering, secret redaction, errors."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from odoo_operator.runtime.logs import REDACTED, describe_error
from odoo_operator.runtime.logs import configure_logging as configure


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def test_json_lines_for_our_events_and_library_records(capsys: pytest.CaptureFixture[str]) -> None:
    configure("json", "info")
    structlog.get_logger("odoo_operator.test").info("reconciled", instance="shop", took=0.5)
    logging.getLogger("aiohttp.access").warning("library says %s", "hi")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["event"] == "reconciled"
    assert (lines[0]["instance"], lines[0]["took"]) == ("shop", 0.5)
    assert (lines[0]["level"], lines[0]["logger"]) == ("info", "odoo_operator.test")
    assert lines[1]["event"] == "library says hi"
    assert (lines[1]["level"], lines[1]["logger"]) == ("warning", "aiohttp.access")
    for line in lines:
        assert line["timestamp"].endswith("Z")


def test_text_is_one_readable_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    configure("text", "info")
    structlog.get_logger("odoo_operator.test").info("reconciled", instance="shop")
    (line,) = capsys.readouterr().err.splitlines()
    for text in ("reconciled", "instance=shop", "info"):
        assert text in line
    assert not line.startswith("{")


def test_events_below_the_level_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure("json", "warning")
    log = structlog.get_logger("odoo_operator.test")
    log.info("quiet")
    log.warning("loud")
    logging.getLogger("kubernetes_asyncio").debug("noise")
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["loud"]


def test_values_of_secret_keys_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure("json", "info")
    structlog.get_logger("t").info(
        "oops", password="hunter2", admin_password="a", token="t", secret_key="s",
        access_key="k", postgres_clusters_secret="postgres-clusters", object_key="k.zip",
    )  # fmt: skip
    (line,) = capsys.readouterr().err.splitlines()
    event = json.loads(line)
    for key in ("password", "admin_password", "token", "secret_key", "access_key"):
        assert event[key] == REDACTED
    assert "hunter2" not in line
    # names of secrets and keys of objects are not secrets:
    assert event["postgres_clusters_secret"] == "postgres-clusters"
    assert event["object_key"] == "k.zip"


def test_an_error_is_described_by_its_message_or_else_its_type() -> None:
    assert describe_error(ValueError("spec.replicas: must be >= 0")) == (
        "spec.replicas: must be >= 0"
    )
    assert describe_error(TimeoutError()) == "TimeoutError()"  # str() of it is ""
