"""Environment resolution, volumes as files and container-path translation."""

from __future__ import annotations

import base64
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from odoo_operator.sandbox.podsim.env import ConfigError, expand, resolve
from odoo_operator.sandbox.podsim.volumes import Mount, PodVolumes, translate, translate_argument


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Objects:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}
        self.claims: dict[tuple[str, str], dict[str, Any]] = {}

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.secrets.get((namespace, name))

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.config_maps.get((namespace, name))

    def claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.claims.get((namespace, name))


POD = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "web"}},
    "spec": {"nodeName": "node"},
}


def test_expand_follows_kubernetes_rules() -> None:
    variables = {"A": "x", "B": "y"}
    assert expand("$(A)-$(B)", variables) == "x-y"
    assert expand("$$(A)", variables) == "$(A)"
    assert expand("$(MISSING) $A", variables) == "$(MISSING) $A"


def test_resolve_in_order_with_references_and_sources() -> None:
    objects = Objects()
    objects.secrets[("ns", "db")] = {"data": {"password": _b64("s3cret"), "bad key": _b64("x")}}
    objects.config_maps[("ns", "settings")] = {"data": {"HOST": "db.local"}}
    container = {
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        "env": [
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "URL", "value": "pg://$(CFG_HOST)/$(NAME)"},
            {"name": "OPT",
             "valueFrom": {"secretKeyRef": {"name": "x", "key": "k", "optional": True}}},
        ],
    }  # fmt: skip
    assert resolve(POD, container, objects) == {
        "CFG_HOST": "db.local",
        "NAME": "p",
        "NS": "ns",
        "APP": "web",
        "PW": "s3cret",
        "URL": "pg://db.local/p",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
        ({"configMapKeyRef": {"name": "cm", "key": "k"}}, "couldn't find key k in ConfigMap ns/cm"),
        ({"resourceFieldRef": {"resource": "limits.cpu"}}, "resourceFieldRef is not supported"),
        ({"fieldRef": {"fieldPath": "status.phase"}}, "'status.phase' is not supported"),
    ],
)
def test_unresolvable_env_is_a_config_error(env: dict[str, Any], message: str) -> None:
    objects = Objects()
    objects.config_maps[("ns", "cm")] = {"data": {}}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(POD, {"env": [{"name": "X", "valueFrom": env}]}, objects)


ITEM = {"key": "b", "path": "sub/b", "mode": 0o600}


def test_volumes_become_files_with_modes(tmp_path: Path) -> None:
    objects = Objects()
    objects.secrets[("ns", "conf")] = {"data": {"odoo.conf": _b64("[options]\n")}}
    objects.config_maps[("ns", "cm")] = {"data": {"a": "1", "b": "2"}}
    objects.claims[("ns", "fs")] = {
        "metadata": {"namespace": "ns", "name": "fs", "uid": "abcdef0123"}
    }
    pod = {
        **POD,
        "spec": {
            "volumes": [
                {"name": "conf", "secret": {"secretName": "conf", "defaultMode": 0o440}},
                {"name": "cm", "configMap": {"name": "cm", "items": [ITEM]}},
                {"name": "scratch", "emptyDir": {}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "fs"}},
            ]
        },
    }  # fmt: skip
    volumes = PodVolumes(tmp_path / "pod", tmp_path / "claims")
    volumes.prepare(pod, objects)
    conf = volumes.directories["conf"] / "odoo.conf"
    assert conf.read_text() == "[options]\n"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o440
    assert sorted(p.name for p in volumes.directories["cm"].rglob("*") if p.is_file()) == ["b"]
    assert stat.S_IMODE((volumes.directories["cm"] / "sub" / "b").stat().st_mode) == 0o600
    assert volumes.directories["data"] == tmp_path / "claims" / "ns" / "fs-abcdef01"
    container = {
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/odoo"},
            {"name": "data", "mountPath": "/var/lib/odoo/sessions", "subPath": "sessions"},
            {"name": "conf", "mountPath": "/etc/odoo/"},
        ]
    }
    mounts = volumes.mounts(container)
    assert [m.container_path for m in mounts] == [
        "/var/lib/odoo/sessions",
        "/var/lib/odoo",
        "/etc/odoo",
    ]
    assert (volumes.directories["data"] / "sessions").is_dir()


def test_missing_objects_and_unknown_volume_types_are_config_errors(tmp_path: Path) -> None:
    volumes = PodVolumes(tmp_path / "pod", tmp_path / "claims")
    for volume, message in [
        ({"name": "v", "secret": {"secretName": "gone"}}, 'secret "gone" not found'),
        ({"name": "v", "persistentVolumeClaim": {"claimName": "c"}}, 'persistentvolumeclaim "c"'),
        ({"name": "v", "nfs": {"server": "x"}}, "type nfs is not supported"),
    ]:
        with pytest.raises(ConfigError, match=message):
            volumes.prepare({**POD, "spec": {"volumes": [volume]}}, Objects())
    objects = Objects()
    objects.secrets[("ns", "s")] = {"data": {"k": _b64("v")}}
    escape = {"name": "v", "secret": {"secretName": "s", "items": [{"key": "k", "path": "../x"}]}}
    with pytest.raises(ConfigError, match="would leave the volume"):
        volumes.prepare({**POD, "spec": {"volumes": [escape]}}, objects)


def test_translation_rule() -> None:
    mounts = [Mount("/var/lib/odoo/sessions", Path("/h/s")), Mount("/var/lib/odoo", Path("/h/d"))]
    assert translate("/var/lib/odoo", mounts) == "/h/d"
    assert translate("/var/lib/odoo/filestore/db", mounts) == "/h/d/filestore/db"
    assert translate("/var/lib/odoo/sessions/x", mounts) == "/h/s/x"
    assert translate("/var/lib/odoo2", mounts) == "/var/lib/odoo2"
    assert translate("relative/var/lib/odoo", mounts) == "relative/var/lib/odoo"
    assert translate_argument("--filestore=/var/lib/odoo/f", mounts) == "--filestore=/h/d/f"
    assert translate_argument("--filestore", mounts) == "--filestore"
    assert translate_argument("cp /var/lib/odoo x", mounts) == "cp /var/lib/odoo x"
