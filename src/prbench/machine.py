"""The machine a result was computed on: what changes floating-point results between machines.

Training-free rows are byte-identical across x86 CPUs as far as measured, but bf16 training
takes different oneDNN kernels on CPUs with and without AVX-512 BF16 or AMX, so the network
rows move in the third decimal. :func:`fingerprint` records the CPU, the instruction-set
features that select kernels, torch with its oneDNN and BLAS builds, the ISA oneDNN
actually dispatches to (which ``ONEDNN_MAX_CPU_ISA`` can lower), thread counts and the GPU;
:func:`kernel_path` is the part of it that decides which kernels run.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from typing import Any

__all__ = ["ISA_FEATURES", "KERNEL_PATH_KEYS", "NUMERIC_ENVIRONMENT", "fingerprint",
           "kernel_path", "onednn_isa"]

#: CPU flags (Linux /proc/cpuinfo names) that select different vector kernels.
ISA_FEATURES = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
#: Environment variables that change which kernels run or how many threads split the work.
NUMERIC_ENVIRONMENT = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY",
                       "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_CBWR")
#: Fingerprint entries that decide the kernels (and so the bits) of a CPU run.
KERNEL_PATH_KEYS = ("architecture", "torch", "onednn", "onednn_isa", "aten_cpu_capability",
                    "blas")

# One convolution run by oneDNN with its verbose output on: its "isa:" line names the ISA
# oneDNN dispatches to on this machine under this environment.
_PROBE = ("import torch\n"
          "torch.mkldnn_convolution(torch.ones(1, 8, 8, 8), torch.ones(8, 8, 3, 3), None,\n"
          "                         [1, 1], [1, 1], [1, 1], 1)\n")


def _cpuinfo() -> tuple[str | None, set[str]]:
    """(model name, flags) of the first CPU in /proc/cpuinfo; (None, set()) elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None, set()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
    return (model.group(1).strip() if model else None,
            set(flags.group(1).split()) if flags else set())


def onednn_isa(timeout_s: float = 120.0) -> str | None:
    """The instruction set oneDNN dispatches to here (e.g. "Intel AVX-512 with Intel DL
    Boost and bfloat16 support"), read from its verbose output in a fresh interpreter that
    inherits this environment; None if it cannot be told."""
    try:
        result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                                timeout=timeout_s, env={**os.environ, "ONEDNN_VERBOSE": "1"})
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"onednn_verbose,.*?info,cpu,isa:(.+)", result.stdout)
    return found.group(1).strip() if found else None


def _build_entry(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text)
    return found.group(1).strip() if found else None


def fingerprint() -> dict[str, Any]:
    """A JSON-able record of this machine's numerics: cpu_model, architecture,
    logical_cpus, isa_features (those of :data:`ISA_FEATURES` the CPU has), torch,
    aten_cpu_capability (torch's vector kernels), onednn (version), onednn_isa
    (:func:`onednn_isa`), blas and mkl (the builds torch uses), torch_threads,
    torch_interop_threads, environment (:data:`NUMERIC_ENVIRONMENT` as set) and gpu."""
    import torch

    model, flags = _cpuinfo()
    build = torch.__config__.show()
    return {
        "cpu_model": model or platform.processor() or None,
        "architecture": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "isa_features": [feature for feature in ISA_FEATURES if feature in flags],
        "torch": torch.__version__,
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn": _build_entry(r"MKL-DNN (v[\d.]+)", build),
        "onednn_isa": onednn_isa(),
        "blas": _build_entry(r"BLAS_INFO=(\w+)", build),
        "mkl": _build_entry(r"Math Kernel Library Version ([\d.]+)", build),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "environment": {name: os.environ[name] for name in NUMERIC_ENVIRONMENT
                        if name in os.environ},
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def kernel_path(record: dict[str, Any]) -> dict[str, Any]:
    """The entries of a :func:`fingerprint` that decide which CPU kernels run
    (:data:`KERNEL_PATH_KEYS`): two runs with equal kernel paths and equal inputs compute
    the same bits; runs on different paths may differ in the last bits of every float."""
    return {key: record.get(key) for key in KERNEL_PATH_KEYS}
