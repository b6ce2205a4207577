"""The machine fingerprint: what it records, and that it sees a forced oneDNN ISA."""

import platform

import pytest

from prbench import machine


def test_fingerprint_records_the_kernel_path_and_what_decides_it():
    record = machine.fingerprint()
    assert record["architecture"] == platform.machine()
    assert set(record["isa_features"]) <= set(machine.ISA_FEATURES)
    assert record["torch"] and record["aten_cpu_capability"]
    assert set(machine.kernel_path(record)) == set(machine.KERNEL_PATH_KEYS)
    assert machine.kernel_path(record) == {key: record[key] for key in machine.KERNEL_PATH_KEYS}


@pytest.mark.skipif(platform.machine() != "x86_64", reason="oneDNN's ISA names are x86's")
def test_a_lower_onednn_isa_is_seen_and_changes_the_kernel_path(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    native = machine.fingerprint()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    forced = machine.fingerprint()
    assert "AVX2" in forced["onednn_isa"] and "AVX-512" not in forced["onednn_isa"]
    assert forced["environment"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    if "avx512f" in native["isa_features"]:
        assert "AVX-512" in native["onednn_isa"]
        assert machine.kernel_path(forced) != machine.kernel_path(native)
