"""Manager options: library defaults, bad values located at their field in neutral words."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from odoo_operator.runtime.objects import freeze, micro_time, thaw
from odoo_operator.runtime.options import ManagerOptions
from odoo_operator.runtime.server import BindAddress, parse_bind_address


def test_library_defaults() -> None:
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
    assert options.kubeconfig is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("metrics_bind_address", "8080", "expected [HOST]:PORT"),
        ("health_probe_bind_address", "localhost:http", "expected [HOST]:PORT"),
        ("watch_namespace", "Not_A_Namespace", "not a valid namespace name"),
        ("lease_namespace", "-x", "not a valid namespace name"),
        ("log_level", "loud", "expected one of debug, info"),
        ("max_concurrent_reconciles", 0, "greater than or equal to 1"),
        ("log_format", "xml", "'text' or 'json'"),
        ("no_such_option", 1, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_value_is_located_at_its_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ManagerOptions.model_validate({field: value})
    (problem,) = raised.value.errors()
    assert problem["loc"] == (field,)
    assert message in problem["msg"]
    assert "--" not in problem["msg"]  # the runtime knows no command line


def test_lease_timings_must_nest() -> None:
    with pytest.raises(ValidationError, match="lease_duration > renew_deadline > retry_period"):
        ManagerOptions(renew_deadline=20)


def test_bind_addresses() -> None:
    assert parse_bind_address("0") is None
    assert parse_bind_address("127.0.0.1:0") == BindAddress("127.0.0.1", 0)
    assert parse_bind_address("[::1]:9443") == BindAddress("::1", 9443)
    with pytest.raises(ValueError, match="expected"):
        parse_bind_address(":99999")


def test_empty_namespaces_mean_unset() -> None:
    assert ManagerOptions(watch_namespace="").watch_namespace is None
    assert ManagerOptions(lease_namespace="").lease_namespace is None


def test_kubeconfig_is_one_path_or_several_as_in_kubeconfig(tmp_path: Path) -> None:
    assert ManagerOptions(kubeconfig=tmp_path / "config").kubeconfig == str(tmp_path / "config")
    several = f"{tmp_path / 'a'}:{tmp_path / 'b'}"
    assert ManagerOptions(kubeconfig=several).kubeconfig == several
    assert ManagerOptions(kubeconfig="").kubeconfig is None


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


def test_frozen_objects_share_one_copy_of_each_field_name() -> None:
    """Objects decoded apart (as the informer caches them) keep no field name twice."""
    text = '{"metadata": {"resourceVersion": "1"}, "spec": {"terminationGracePeriodSeconds": 30}}'
    first, second = freeze(json.loads(text)), freeze(json.loads(text))
    pairs = [
        (first, second),
        (first["metadata"], second["metadata"]),
        (first["spec"], second["spec"]),
    ]
    for one, other in pairs:
        for key_one, key_other in zip(one, other, strict=True):
            assert key_one is key_other, key_one


def test_micro_time_always_has_six_fractional_digits() -> None:
    whole_second = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert micro_time(whole_second) == "2024-01-02T03:04:05.000000Z"
    assert micro_time(whole_second.replace(microsecond=7)) == "2024-01-02T03:04:05.000007Z"
