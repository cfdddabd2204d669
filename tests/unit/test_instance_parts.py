"""Pure parts of the OdooInstance controller: odoo.conf, clusters Secret, names,
canonical quantities, status conditions, spec defaults, replicas, own writes."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from odoo_operator.api.instance import OdooInstance
from odoo_operator.controllers import canonical
from odoo_operator.controllers.instance import names, odooconf
from odoo_operator.controllers.instance.clusters import ClustersError, parse, pick
from odoo_operator.controllers.instance.defaults import spec_defaults
from odoo_operator.controllers.instance.ensure import Replicas, replicas
from odoo_operator.controllers.instance.phase import Phase
from odoo_operator.controllers.instance.status import Observed, desired_status
from odoo_operator.controllers.own_writes import OwnWrites
from odoo_operator.run.flags import defaults
from odoo_operator.runtime.handler import EnqueueMapped, object_key
from odoo_operator.runtime.objects import ObjectKey, freeze
from odoo_operator.runtime.resources import CONFIG_MAPS

DATABASE = odooconf.Database("db.example", 5432, "odoo_x", "odoo.ns.a", "pw")


def test_odoo_conf_keys_in_spec_order_then_options_in_key_order() -> None:
    text = odooconf.render(DATABASE, "master", {"workers": "4", "db_port": "6432", "a_key": "1"})
    keys = [line.split(" = ")[0] for line in text.splitlines()[1:]]
    assert text.startswith("[options]\n")
    assert keys == [
        "data_dir", "proxy_mode", "addons_path", "db_host", "db_port", "db_name", "db_user",
        "db_password", "list_db", "dbfilter", "http_port", "gevent_port", "max_cron_threads",
        "admin_passwd", "a_key", "workers",
    ]  # fmt: skip
    assert "db_port = 6432\n" in text
    assert "dbfilter = ^odoo_x$\n" in text
    assert "admin_passwd" not in odooconf.render(DATABASE, None, {})


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (
            {"workers": "2\nadmin_passwd = x"},
            "spec.configOptions.workers: a value must be one line",
        ),
        ({"a = b": "1"}, "spec.configOptions.a = b: not an option name"),
        ({"x": "1\r"}, "spec.configOptions.x: a value must be one line"),
    ],
)
def test_odoo_conf_refuses_what_could_add_a_line(options: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=r"^spec\.configOptions\.") as caught:
        odooconf.render(DATABASE, None, options)
    assert str(caught.value).startswith(problem)


def _secret(document: Any) -> dict[str, Any]:
    text = document if isinstance(document, str) else yaml.safe_dump(document)
    return {"data": {"clusters.yaml": base64.b64encode(text.encode()).decode()}}


def test_clusters_parse_and_pick() -> None:
    found = parse(_secret({
        "main": {"host": "a", "adminUser": "u", "adminPassword": "p", "default": True},
        "other": {"host": "b", "port": "6432", "adminUser": "u", "adminPassword": "p"},
    }), "pg")  # fmt: skip
    assert pick(found, None, "pg").name == "main"
    assert pick(found, "other", "pg").port == 6432
    assert "p" not in repr(found["main"]).split("admin_user")[1]
    with pytest.raises(
        ClustersError, match=r"unknown cluster 'x' \(clusters Secret pg has: main, other\)"
    ):
        pick(found, "x", "pg")


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("a: [", "key clusters.yaml is not valid YAML"),
        ("[1, 2]", "must map cluster names to settings"),
        ({"main": {"host": "a", "adminUser": "u", "adminPassword": "SECRET", "port": 0}},
         "cluster 'main': port must be an integer from 1 to 65535"),
        ({"main": {"host": "a", "adminUser": "u"}}, "cluster 'main': adminPassword must be"),
        ({"main": {"host": "a", "adminUser": "u", "adminPassword": "SECRET", "tls": 1}},
         "cluster 'main': unknown field"),
        ({n: {"host": "a", "adminUser": "u", "adminPassword": "SECRET", "default": True}
          for n in ("a", "b")}, "more than one default cluster (a, b)"),
    ],
)  # fmt: skip
def test_clusters_errors_name_the_field_and_hide_values(document: Any, problem: str) -> None:
    with pytest.raises(ClustersError) as caught:
        parse(_secret(document), "pg")
    assert problem in str(caught.value)
    assert "SECRET" not in str(caught.value)
    assert str(caught.value).startswith("clusters Secret pg")


def test_a_missing_secret_or_key() -> None:
    with pytest.raises(ClustersError, match="clusters Secret pg not found"):
        parse(None, "pg")
    with pytest.raises(ClustersError, match=r"has no key clusters\.yaml"):
        parse({"data": {}}, "pg")
    with pytest.raises(ClustersError, match="marks no cluster default"):
        pick({}, None, "pg")


def test_role_names_fit_postgres_and_stay_stable() -> None:
    assert names.role_name("shop", "odoo") == "odoo.shop.odoo"
    long_a = names.role_name("n" * 40, "a" * 40)
    long_b = names.role_name("n" * 40, "a" * 39 + "b")
    assert [len(name.encode()) for name in (long_a, long_b)] == [63, 63]
    assert long_a != long_b
    assert long_a == names.role_name("n" * 40, "a" * 40)
    assert long_a.startswith("odoo." + "n" * 40)
    assert names.default_database_name("0f3a-B9") == "odoo_0f3a_b9"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("1000m", "1"), ("0.5", "500m"), (1, "1"), ("1024Mi", "1Gi"), ("1000Mi", "1000Mi"),
        ("1.5Gi", "1536Mi"), ("0.5Gi", "512Mi"), ("1000", "1k"), ("1e3", "1e3"),
        ("129e6", "129e6"), ("128974848", "128974848"), ("512Ki", "512Ki"), ("100M", "100M"),
        ("0.1m", "100u"), ("2Gi", "2Gi"), ("0", "0"),
    ],
)  # fmt: skip
def test_quantities_in_the_form_the_api_server_stores(given: Any, stored: str) -> None:
    assert canonical.quantity(given) == stored


def test_not_a_quantity() -> None:
    with pytest.raises(ValueError, match="'lots' is not a Kubernetes quantity"):
        canonical.quantity("lots")


def _observed(phase: Phase, ready: int = 0) -> Observed:
    return Observed("shop", phase, 3, ready, 1, True, None, None)


def test_condition_times_move_only_when_their_status_moves() -> None:
    first = desired_status(_observed(Phase.STARTING), None, moment="2026-01-01T00:00:00Z")
    again = desired_status(_observed(Phase.STARTING, 0), first, moment="2026-01-01T00:05:00Z")
    assert again == first
    running = desired_status(_observed(Phase.RUNNING, 1), first, moment="2026-01-01T00:09:00Z")
    times = {c["type"]: c["lastTransitionTime"] for c in running["conditions"]}
    assert times == {"Ready": "2026-01-01T00:09:00Z", "Progressing": "2026-01-01T00:09:00Z"}
    degraded = desired_status(_observed(Phase.DEGRADED), running, moment="2026-01-01T00:10:00Z")
    times = {c["type"]: c["lastTransitionTime"] for c in degraded["conditions"]}
    assert times == {"Ready": "2026-01-01T00:10:00Z", "Progressing": "2026-01-01T00:09:00Z"}
    assert (running["ready"], degraded["ready"]) == (True, False)
    assert running["selector"] == "app=shop"
    assert {c["reason"] for c in degraded["conditions"]} == {"Degraded"}


def _instance(spec: dict[str, Any]) -> OdooInstance:
    return OdooInstance.model_validate(
        {"metadata": {"name": "a", "namespace": "n", "uid": "u-1"}, "spec": spec}
    )


def test_defaults_fill_only_what_is_unset() -> None:
    _, settings = defaults()
    settings = settings.model_copy(
        update={"default_ingress_class": "nginx", "default_resources": {"limits": {"cpu": "1"}}}
    )
    patch = spec_defaults(_instance({"ingress": {"hosts": ["a.example"]}}), settings, "main")
    assert patch == {
        "image": "odoo:18.0",
        "database": {"cluster": "main", "name": "odoo_u_1"},
        "filestore": {"storageSize": "2Gi", "storageClass": "standard"},
        "ingress": {"class": "nginx"},
        "resources": {"limits": {"cpu": "1"}},
    }
    full = {
        "image": "x", "database": {"cluster": "c", "name": "d"},
        "filestore": {"storageSize": "1Gi", "storageClass": "s"},
        "ingress": {"hosts": ["a"], "class": "c"}, "resources": {},
    }  # fmt: skip
    assert spec_defaults(_instance(full), settings, "main") == {}
    assert "ingress" not in spec_defaults(_instance({}), settings, "main")


@pytest.mark.parametrize(
    ("phase", "initialized", "spec", "expected"),
    [
        (Phase.UNINITIALIZED, False, {"replicas": 2}, Replicas(0, 0)),
        (Phase.RUNNING, True, {"replicas": 2}, Replicas(2, 1)),
        (Phase.STOPPED, True, {"replicas": 0}, Replicas(0, 0)),
        (Phase.RESTORING, True, {"replicas": 2}, Replicas(0, 0)),
        (Phase.UPGRADING, True, {"replicas": 2, "cron": {"replicas": 3}}, Replicas(2, 0)),
        (Phase.BACKING_UP, True, {"replicas": 1, "cron": {"replicas": 3}}, Replicas(1, 3)),
    ],
)
def test_replicas(
    phase: Phase, initialized: bool, spec: dict[str, Any], expected: Replicas
) -> None:
    assert replicas(_instance(spec), phase, initialized) == expected


def _config_map(version: str) -> Any:
    return freeze({"metadata": {"name": "a", "namespace": "n", "resourceVersion": version}})


def test_own_writes_until_the_cache_caught_up() -> None:
    writes = OwnWrites()
    key = ObjectKey("n", "a")
    seen = writes.handler(CONFIG_MAPS)
    writes.remember(CONFIG_MAPS, _config_map("12"))
    assert (
        writes.freshest(CONFIG_MAPS, key, _config_map("11"))["metadata"]["resourceVersion"] == "12"
    )
    assert writes.freshest(CONFIG_MAPS, key, None) is not None  # created, not yet cached
    seen.on_update(_config_map("11"), _config_map("12"))
    assert len(writes) == 0
    writes.remember(CONFIG_MAPS, _config_map("14"))
    seen.on_delete(_config_map("13"))
    assert writes.freshest(CONFIG_MAPS, key, None) is None  # a deletion is never hidden


def _named(name: str, version: str) -> Any:
    return freeze({"metadata": {"name": name, "namespace": "n", "resourceVersion": version}})


def test_own_writes_echo_is_exactly_the_version_our_write_returned() -> None:
    writes = OwnWrites()
    seen = writes.handler(CONFIG_MAPS)
    writes.remember(CONFIG_MAPS, _named("a", "12"))
    assert not writes.is_echo(CONFIG_MAPS, _named("a", "11"))  # someone else's, before ours
    seen.on_update(_named("a", "10"), _named("a", "11"))
    assert writes.is_echo(CONFIG_MAPS, _named("a", "12"))  # still ours to come
    seen.on_update(_named("a", "11"), _named("a", "12"))
    assert writes.is_echo(CONFIG_MAPS, _named("a", "12"))  # for every handler of this event
    assert not writes.is_echo(CONFIG_MAPS, _named("b", "12"))
    seen.on_add(_named("b", "13"))  # the informer moved on: the echo was delivered
    assert not writes.is_echo(CONFIG_MAPS, _named("a", "12"))
    writes.remember(CONFIG_MAPS, _named("a", "14"))
    seen.on_update(_named("a", "12"), _named("a", "15"))  # someone else wrote after us
    assert not writes.is_echo(CONFIG_MAPS, _named("a", "14"))
    assert not writes.is_echo(CONFIG_MAPS, _named("a", "15"))
    writes.remember(CONFIG_MAPS, _named("a", "16"))
    seen.on_delete(_named("a", "16"))
    assert not writes.is_echo(CONFIG_MAPS, _named("a", "16"))  # a deletion is never an echo
    writes.remember(CONFIG_MAPS, _named("a", "not-a-number"))
    assert not writes.is_echo(CONFIG_MAPS, _named("a", "not-a-number"))


def test_enqueue_mapped_ignores_adds_and_changes_only() -> None:
    enqueued: list[ObjectKey] = []
    handler = EnqueueMapped(object_key, enqueued.append, ignore=lambda obj: True)
    handler.on_add(_named("a", "1"))
    handler.on_update(_named("a", "1"), _named("a", "2"))
    assert enqueued == []
    resynced = _named("a", "2")
    handler.on_update(resynced, resynced)  # a resync is never ignored
    handler.on_delete(_named("a", "3"))
    assert enqueued == [ObjectKey("n", "a"), ObjectKey("n", "a")]
