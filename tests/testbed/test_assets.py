"""Where the envtest assets come from, and that only one run builds them at a time.

These tests use small stand-in binaries (shell scripts printing a version) to check
the search order and the build lock; the real build runs on every fresh machine
through the session fixtures.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from odoo_operator.sandbox import apiserver_build, assets


def _fake_apiserver(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / "kube-apiserver"
    binary.write_text(f"#!/bin/sh\necho 'Kubernetes v{version}'\n")
    binary.chmod(0o755)
    return binary


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No KUBEBUILDER_ASSETS, an empty cache, no setup-envtest, no build permission."""
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.delenv(assets.BUILD_ENV, raising=False)
    monkeypatch.setenv("ODOO_OPERATOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(assets, "_is_debian", lambda: False)
    return tmp_path


def test_kubebuilder_assets_comes_first(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_apiserver(assets.cache_dir(), assets.ENVTEST_VERSION)
    _fake_apiserver(isolated / "kb", "1.27.1")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(isolated / "kb"))
    found = assets.find_assets()
    assert found.directory == isolated / "kb"
    assert found.version == "1.27.1"
    assert found.etcd.name == "etcd"


def test_too_old_kubebuilder_assets_is_an_error(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_apiserver(isolated / "kb", "1.19.4")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(isolated / "kb"))
    with pytest.raises(assets.AssetsMissing, match="KUBEBUILDER_ASSETS"):
        assets.find_assets()


def test_cache_is_used_when_version_matches(isolated: Path) -> None:
    _fake_apiserver(assets.cache_dir(), assets.ENVTEST_VERSION)
    assert assets.find_assets().directory == assets.cache_dir()


def test_without_permission_we_explain_instead_of_building(isolated: Path) -> None:
    _fake_apiserver(assets.cache_dir(), "1.20.1")  # a stale cache does not count
    with pytest.raises(assets.AssetsMissing) as missing:
        assets.find_assets()
    message = str(missing.value)
    assert "KUBEBUILDER_ASSETS" in message
    assert "--build-assets" in message
    assert assets.BUILD_ENV in message


def test_build_permission(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not assets.build_allowed(explicit=False)
    assert assets.build_allowed(explicit=True)
    monkeypatch.setenv(assets.BUILD_ENV, "1")
    assert assets.build_allowed(explicit=False)


def test_concurrent_runs_build_once(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[Path] = []
    arrived: list[int] = []
    both_looking = threading.Event()

    def slow_build(target: Path, work_dir: Path, progress: apiserver_build.Progress) -> None:
        builds.append(target)
        assert both_looking.wait(60)  # the other run looks for the assets meanwhile
        _fake_apiserver(target.parent, assets.ENVTEST_VERSION)

    def look() -> None:
        arrived.append(1)
        if len(arrived) == 2:
            both_looking.set()
        results.append(assets.find_assets(build=True))

    monkeypatch.setattr(apiserver_build, "build_kube_apiserver", slow_build)
    results: list[assets.EnvtestAssets] = []
    threads = [threading.Thread(target=look) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert [r.directory for r in results] == [assets.cache_dir()] * 2
