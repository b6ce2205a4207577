"""Job 3 of the offline GPU deployment, on the node: run the workflow
(``python3 tools/gpu/gpu_workflow.py run``).

Installs the wheels (:mod:`install_offline`), prints the torch/CUDA versions, then runs
``python -m snakemake --configfile config/gpu-smoke.yaml`` (and its report) and
``--configfile config/gpu.yaml`` (the paper-scale run), each with ``--resources
gpu_jobs=8``, within a time budget for the whole command (``--budget-s``, default 580 s: a
run still going is stopped) and collects what they have (:mod:`collect_results`).
Standard library only.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import offline_node as gpu
from collect_results import FLAT, MAX_CONFIGS, OUT_LIMIT_FILES, collect
from install_offline import install
from offline_node import DEFAULT_CONFIGS


def run_name(config: Path) -> str:
    match = re.search(r"^run:\s*['\"]?([A-Za-z0-9_.-]+)", config.read_text(), re.M)
    if not match:
        raise SystemExit(f"{config}: no top-level 'run:'")
    return match.group(1)


def wants_cuda(config: Path) -> bool:
    return bool(re.search(r"^\s+device:\s*cuda\b", config.read_text(), re.M))


# Time left at the end for collecting the files; every config before the last runs at most
# PRELUDE_CAP_S (the smoke run takes ~1-2 min: longer means something is wrong).
RESERVE_S, PRELUDE_CAP_S, MIN_RUN_S = 25, 240, 30


def tee(cmd: list[str], env: dict, log, timeout: float | None = None) -> tuple[int, bool]:
    """Run ``cmd`` in its own process group, copying its output to stdout and ``log``;
    after ``timeout`` seconds the whole group gets SIGTERM, then SIGKILL 20 s later.
    Returns (exit code, whether it was stopped for time)."""
    import signal
    import threading

    print("+", " ".join(cmd), flush=True)
    log.write(f"+ {' '.join(cmd)}\n")
    process = subprocess.Popen(cmd, cwd=gpu.ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1,
                               start_new_session=True)

    def copy() -> None:
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)

    reader = threading.Thread(target=copy, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=timeout)
        stopped = False
    except subprocess.TimeoutExpired:
        message = f"\n*** time budget: stopping {cmd[2:4]} after {timeout:.0f} s ***\n"
        print(message, flush=True)
        log.write(message)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        stopped = True
    reader.join(timeout=10)
    log.flush()
    return code, stopped


def cmd_run(args) -> int:
    started = time.monotonic()
    python = args.python
    pip = args.pip.split() if args.pip else [python, "-m", "pip"]
    wheels, site = Path(args.wheels).resolve(), Path(args.site)
    configs = [Path(c).resolve() for c in (args.configfile or DEFAULT_CONFIGS)]
    if len(configs) > MAX_CONFIGS:
        raise SystemExit(f"at most {MAX_CONFIGS} configs: the device brings back "
                         f"{OUT_LIMIT_FILES} files")
    runs = [run_name(config) for config in configs]
    if len(set(runs)) != len(runs):
        raise SystemExit(f"the configs' run names repeat: {runs}")
    budget = args.budget_s

    def left() -> float:
        return math.inf if budget is None else budget - (time.monotonic() - started)

    out = Path(args.out or os.environ.get("OUT") or gpu.ROOT / "tools" / "gpu" / "out"
               / "gpu-run")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():  # this run's files only, never an earlier run's
        if old.is_file() and (old.name in FLAT or old.name.endswith(".tar.gz")):
            old.unlink()
    summary: dict = {"configs": [str(c.relative_to(gpu.ROOT) if c.is_relative_to(gpu.ROOT)
                                     else c) for c in configs],
                     "host": platform.node(), "budget_s": budget, "gpu_jobs": args.gpu_jobs}
    env, info = install(python, pip, wheels, site, args.extra_path, summary)
    cuda = [c.name for c in configs if wants_cuda(c)]
    if cuda and not info.get("cuda_available") and not args.dry_run:
        raise SystemExit(f"{', '.join(cuda)} ask(s) for CUDA but torch sees no GPU")
    entries: list[dict] = []
    summary["runs"] = entries
    code = 0
    with open(out / "run.log", "w") as log:
        for number, (config, run) in enumerate(zip(configs, runs)):
            last = number == len(configs) - 1
            timeout = left() - RESERVE_S if last else min(left() - RESERVE_S, PRELUDE_CAP_S)
            entry = {"run": run, "config": summary["configs"][number]}
            entries.append(entry)
            if timeout < MIN_RUN_S:
                entry["skipped"] = f"only {left():.0f} s of the budget left"
                print(f"skipping {run}: {entry['skipped']}")
                code = code or 1
                break
            base = [python, "-m", "snakemake", "--configfile", str(config),
                    "--workflow-profile", "none", "--cores", str(args.cores),
                    "--resources", f"gpu_jobs={args.gpu_jobs}"]
            start = time.perf_counter()
            rc, stopped = tee([*base, "--printshellcmds", "--rerun-incomplete",
                               "--show-failed-logs", *(["-n"] if args.dry_run else []),
                               *args.snakemake_args], env, log,
                              None if math.isinf(timeout) else timeout)
            entry.update(snakemake_rc=rc, snakemake_s=round(time.perf_counter() - start, 1),
                         stopped_for_time=stopped)
            if rc == 0 and number == 0 and not args.dry_run and not args.no_report:
                start = time.perf_counter()
                report_timeout = min(120.0, left() - RESERVE_S)
                entry["report_rc"], entry["report_stopped"] = tee(
                    [*base, "--report", str(out / "report.html")], env, log,
                    None if math.isinf(report_timeout) else max(report_timeout, 1.0))
                entry["report_s"] = round(time.perf_counter() - start, 1)
            if rc != 0:
                code = rc
                print(f"{run}: snakemake exited {rc}" + (" (stopped for time)" if stopped
                                                        else "") + "; not going on")
                break
    summary["total_s"] = round(time.monotonic() - started, 1)
    if not args.dry_run:
        collect(out, entries, summary)
    else:
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(json.dumps({"total_s": summary["total_s"],
                      "runs": [{k: v for k, v in e.items() if k.endswith(("_rc", "_s", "run",
                                                                          "skipped"))}
                               for e in entries]}))
    print(f"files in {out}: {sorted(p.name for p in out.iterdir())}")
    return code or next((e.get("report_rc", 0) for e in entries if e.get("report_rc")), 0)
