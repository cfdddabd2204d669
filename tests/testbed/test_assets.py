"""Where the envtest assets come from, and that only one run builds them at a time.

These tests use small stand-in binaries (shell scripts printing a version) to check
the search order and the build lock; the real build runs on every fresh machine
through the session fixtures.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from odoo_operator.sandbox import assets, kubernetes_build


def _fake_binary(directory: Path, version: str, name: str = "kube-apiserver") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / name
    binary.write_text(f"#!/bin/sh\necho 'Kubernetes v{version}'\n")
    binary.chmod(0o755)
    return binary


def _fake_apiserver(directory: Path, version: str) -> Path:
    return _fake_binary(directory, version)


def _fake_controller_manager(directory: Path, version: str) -> Path:
    return _fake_binary(directory, version, "kube-controller-manager")


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


def _record_builds(
    monkeypatch: pytest.MonkeyPatch, hold_until: threading.Event | None = None
) -> list[tuple[str, ...]]:
    """Replace the real build by one that writes stand-in binaries and records its call;
    with `hold_until`, the build finishes only once that event is set."""
    builds: list[tuple[str, ...]] = []

    def fake_build(
        binaries: tuple[str, ...], target_dir: Path, work_dir: Path, progress: object
    ) -> None:
        builds.append(tuple(binaries))
        if hold_until is not None:
            assert hold_until.wait(60)  # the other run looks for the assets meanwhile
        for binary in binaries:
            _fake_binary(target_dir, assets.ENVTEST_VERSION, binary)

    monkeypatch.setattr(kubernetes_build, "build", fake_build)
    return builds


def test_concurrent_runs_build_once(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrived: list[int] = []
    both_looking = threading.Event()
    builds = _record_builds(monkeypatch, hold_until=both_looking)

    def look() -> None:
        arrived.append(1)
        if len(arrived) == 2:
            both_looking.set()
        results.append(assets.find_assets(build=True))

    results: list[assets.EnvtestAssets] = []
    threads = [threading.Thread(target=look) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [("kube-apiserver", "kube-controller-manager")]
    assert [r.directory for r in results] == [assets.cache_dir()] * 2
    assert [r.kube_controller_manager for r in results] == [
        assets.cache_dir() / "kube-controller-manager"
    ] * 2


def test_cache_without_controller_manager_builds_only_it(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = _record_builds(monkeypatch)
    apiserver = _fake_apiserver(assets.cache_dir(), assets.ENVTEST_VERSION)
    before = apiserver.stat().st_mtime_ns
    assert assets.find_assets().kube_controller_manager is None  # not asked for: no build
    found = assets.find_assets(build=True, controller_manager=True)
    assert builds == [("kube-controller-manager",)]
    assert found.kube_controller_manager == assets.cache_dir() / "kube-controller-manager"
    assert apiserver.stat().st_mtime_ns == before
    assert assets.find_assets(controller_manager=True) == found  # cached from now on
    assert len(builds) == 1


def test_controller_manager_of_another_version_does_not_count(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = _record_builds(monkeypatch)
    _fake_apiserver(assets.cache_dir(), assets.ENVTEST_VERSION)
    _fake_controller_manager(assets.cache_dir(), "1.19.0")
    assert assets.find_assets().kube_controller_manager is None
    found = assets.find_assets(build=True, controller_manager=True)
    assert builds == [("kube-controller-manager",)]
    assert found.kube_controller_manager is not None


def test_kubebuilder_assets_without_controller_manager_is_a_clear_error(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = _record_builds(monkeypatch)
    _fake_apiserver(isolated / "kb", "1.27.1")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(isolated / "kb"))
    with pytest.raises(assets.AssetsMissing) as missing:
        assets.find_assets(build=True, controller_manager=True)
    assert str(missing.value) == (
        f"{isolated / 'kb'} (KUBEBUILDER_ASSETS or setup-envtest) holds kube-apiserver v1.27.1 "
        "but no kube-controller-manager of the same version; put one of that version next "
        "to it, or leave the controller manager out "
        "(--without controller-manager)"
    )
    assert builds == []
    _fake_controller_manager(isolated / "kb", "1.27.1")
    found = assets.find_assets(controller_manager=True)
    assert found.kube_controller_manager == isolated / "kb" / "kube-controller-manager"
