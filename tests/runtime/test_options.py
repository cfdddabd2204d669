"""Manager options: defaults, and bad values named by their flag."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from odoo_operator.runtime.objects import freeze, micro_time, thaw
from odoo_operator.runtime.options import ManagerOptions, describe_error
from odoo_operator.runtime.server import BindAddress, parse_bind_address


def test_defaults_match_the_operator_flags() -> None:
    options = ManagerOptions()
    assert options.metrics_address == BindAddress(None, 8080)
    assert options.health_address == BindAddress(None, 8081)
    assert options.leader_elect is True
    assert options.lease_name == "odoo-operator-leader"
    assert (options.lease_duration, options.renew_deadline, options.retry_period) == (15, 10, 2)
    assert options.watchdog_timeout == 70
    assert options.shutdown_grace == 30
    assert options.max_concurrent_reconciles == 1
    assert options.watch_namespace is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("metrics_bind_address", "8080", "--metrics-bind-address '8080'"),
        ("health_probe_bind_address", "localhost:http", "--health-probe-bind-address"),
        ("watch_namespace", "Not_A_Namespace", "--watch-namespace 'Not_A_Namespace'"),
        ("operator_namespace", "-x", "--operator-namespace"),
        ("log_level", "loud", "--log-level 'loud'"),
        ("max_concurrent_reconciles", 0, "--max-concurrent-reconciles: "),
        ("log_format", "xml", "--log-format: "),
        ("renew_deadline", 20, "lease_duration > renew_deadline > retry_period"),
        ("no_such_option", 1, "--no-such-option: "),
    ],
)
def test_bad_values_name_their_flag(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        ManagerOptions.model_validate({field: value})
    assert message in describe_error(error.value)


def test_bind_addresses() -> None:
    assert parse_bind_address("0", "--x") is None
    assert parse_bind_address("127.0.0.1:0", "--x") == BindAddress("127.0.0.1", 0)
    assert parse_bind_address("[::1]:9443", "--x") == BindAddress("::1", 9443)
    with pytest.raises(ValueError, match="--x ':99999'"):
        parse_bind_address(":99999", "--x")


def test_empty_namespaces_mean_unset() -> None:
    assert ManagerOptions(watch_namespace="").watch_namespace is None


def test_frozen_objects_are_read_only_and_serialise() -> None:
    obj = freeze({"a": [{"b": 1}], "c": {"d": None}})
    for mutate in (
        lambda: obj.__setitem__("x", 1),
        lambda: obj["c"].update({"d": 2}),
        lambda: obj.pop("a"),
        lambda: obj["a"].append(1),
    ):
        with pytest.raises((TypeError, AttributeError)):
            mutate()
    assert json.loads(json.dumps(obj)) == {"a": [{"b": 1}], "c": {"d": None}}
    copy = thaw(obj)
    copy["a"][0]["b"] = 2
    assert obj["a"][0]["b"] == 1


def test_micro_time_always_has_six_fractional_digits() -> None:
    whole_second = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert micro_time(whole_second) == "2024-01-02T03:04:05.000000Z"
    assert micro_time(whole_second.replace(microsecond=7)) == "2024-01-02T03:04:05.000007Z"
