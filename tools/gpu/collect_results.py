"""Job 4 of the offline GPU deployment, on the node: collect the runs' small files into
$OUT within what the device brings back (at most 8 flat files, 16 MiB each, 64 MiB in all;
checked and recorded in summary.json). Standard library only (and prbench's timings, from
the repository's ``src/``, for a run stopped before its provenance job).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tarfile
from pathlib import Path

import offline_node as gpu
from offline_node import MIB, mib


# What the device tool brings back from $OUT: at most 8 flat files, each at most 16 MiB,
# 64 MiB together (its README). `run` writes: summary.json, run.log, report.html (the first
# config's), one <run>.tar.gz per config, and the last config's table1.md, timings.md and
# provenance.json: 5 + the number of configs, so at most 2 configs.
OUT_LIMIT_FILES, OUT_LIMIT_FILE_MIB, OUT_LIMIT_TOTAL_MIB = 8, 16, 64
FLAT = ("summary.json", "run.log", "report.html", "table1.md", "timings.md", "provenance.json")
MAX_CONFIGS = OUT_LIMIT_FILES - len(FLAT)  # one tar per config


def scenario_folders(run: str) -> list[Path]:
    """results/<run>/<scenario>/ of every scenario the run has begun (not its sweep/)."""
    return sorted(path for path in (gpu.ROOT / "results" / run).glob("*")
                  if path.is_dir() and path.name != "sweep")


def run_files(run: str) -> tuple[list[Path], list[Path]]:
    """(small files of a run to bring back, those dropped first if the tar is too large):
    per scenario its tables, png figures, provenance, per-rule benchmarks and logs, training
    histories and curves; the run's sweep summary, the shared decoding's record; optionally
    each scenario's scores.csv. No data, reconstructions or checkpoints."""
    small = [gpu.ROOT / "results" / run / "sweep", gpu.ROOT / "resources" / "benchmarks",
             gpu.ROOT / "resources" / "logs"]
    optional = []
    for results in scenario_folders(run):
        small += [results / "tables", results / "provenance.json", results / "benchmarks",
                  results / "logs"]
        small += sorted(results.glob("figures/*.png"))
        small += (sorted(results.glob("models/*/history.csv"))
                  + sorted(results.glob("models/*/*.png")))
        optional.append(results / "scores.csv")
    return ([path for path in small if path.exists()],
            [path for path in optional if path.exists()])


def write_tar(target: Path, paths: list[Path], optional: list[Path]) -> list[str]:
    """``target`` (.tar.gz) of ``paths`` and ``optional``; rewritten without ``optional`` if
    it is over the per-file limit. Returns the optional files left out."""
    for members, left_out in ((paths + optional, []), (paths, optional)):
        with tarfile.open(target, "w:gz") as tar:
            for path in members:
                tar.add(path, arcname=str(path.relative_to(gpu.ROOT)))
        if target.stat().st_size <= OUT_LIMIT_FILE_MIB * MIB or not optional:
            return [str(path.relative_to(gpu.ROOT)) for path in left_out]
    return [str(path.relative_to(gpu.ROOT)) for path in optional]


def partial_timings(run: str) -> str | None:
    """The per-stage time table of a run stopped before its provenance job, from the
    benchmark files it has (prbench.report.timings, standard library only)."""
    files = sorted(path for folder in scenario_folders(run)
                   for path in (folder / "benchmarks").glob("*.tsv"))
    if not files:
        return None
    sys.path.insert(0, str(gpu.ROOT / "src"))
    from prbench.report import timings

    stages: dict[str, list[Path]] = {}
    for path in files:
        stage = re.sub(r"^(reconstruct|score|synthesize)_.*$", r"\1", path.stem)
        stages.setdefault(stage, []).append(path)
    return ("PARTIAL: the run stopped before its provenance job; these are the jobs that "
            "finished (their benchmark files).\n\n"
            + timings.to_markdown(timings.summarise(timings.read_jobs(stages)),
                                  title=f"Job times of run `{run}` (partial)"))


def collect(out: Path, runs: list[dict], summary: dict) -> None:
    """The run's files into ``out`` (see OUT_LIMIT_FILES), then a check of the limits."""
    for entry in runs:
        small, optional = run_files(entry["run"])
        if small or optional:
            entry["left_out_of_tar"] = write_tar(out / f"{entry['run']}.tar.gz", small, optional)
    if runs:
        last = runs[-1]["run"]
        results = next(iter(scenario_folders(last)), gpu.ROOT / "results" / last)
        for name, path in (("table1.md", results / "tables" / "table1.md"),
                           ("timings.md", results / "tables" / "timings.md"),
                           ("provenance.json", results / "provenance.json")):
            if path.exists():
                shutil.copy2(path, out / name)
        if not (out / "timings.md").exists():
            partial = partial_timings(last)
            if partial:
                (out / "timings.md").write_text(partial)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    files = sorted(path for path in out.iterdir())
    sizes = {path.name: path.stat().st_size for path in files}
    problems = [f"{path.name} is not a plain file" for path in files if not path.is_file()]
    problems += [f"{name}: {mib(size)} > {OUT_LIMIT_FILE_MIB} MiB" for name, size in sizes.items()
                 if size > OUT_LIMIT_FILE_MIB * MIB]
    if len(files) > OUT_LIMIT_FILES:
        problems.append(f"{len(files)} files > {OUT_LIMIT_FILES}")
    if sum(sizes.values()) > OUT_LIMIT_TOTAL_MIB * MIB:
        problems.append(f"{mib(sum(sizes.values()))} in all > {OUT_LIMIT_TOTAL_MIB} MiB")
    summary["out_files"] = {name: size for name, size in sizes.items()}
    summary["out_within_limits"] = not problems
    summary["out_problems"] = problems
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    for name, size in sizes.items():
        print(f"  {size / MIB:7.2f} MiB  {out / name}")
    print("within the device's limits on returned files" if not problems
          else "OVER the device's limits on returned files: " + "; ".join(problems))
