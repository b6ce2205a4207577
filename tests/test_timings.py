"""The run's time record from Snakemake benchmark files (prbench.report.timings and the
provenance stage), on fake benchmark files whose durations and end times are set here."""

import json
import os

import pytest

from prbench import stages
from prbench.report import timings

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
T0 = 1_800_000_000.0  # an arbitrary epoch second: every end below is T0 + offset


def bench(folder, name, seconds, end_offset):
    """A Snakemake-style benchmark TSV: one row per entry of ``seconds``, mtime T0 + end_offset."""
    path = folder / f"{name}.tsv"
    rows = "".join(f"{s:.4f}\t0:00:{int(s):02d}\t100\t200\t90\t95\t0\t0\t50\t{s:.2f}\n"
                   for s in seconds)
    path.write_text(HEADER + rows)
    os.utime(path, (T0 + end_offset, T0 + end_offset))
    return path


@pytest.fixture
def fake_run(tmp_path):
    """Jobs (start, end) after T0: synthesize_test (0, 4), synthesize_train (1, 11),
    train_naive (11, 71), reconstruct_hio_shard0 (5, 25), reconstruct_hio_shard1 (6, 36:
    two repetitions of 10 and 20 s), score_hio (80, 83) after a pause, table (83, 90)."""
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    files = {
        "synthesize": [bench(folder, "synthesize_test", [4.0], 4),
                       bench(folder, "synthesize_train", [10.0], 11)],
        "train_naive": [bench(folder, "train_naive", [60.0], 71)],
        "reconstruct": [bench(folder, "reconstruct_hio_shard0", [20.0], 25),
                        bench(folder, "reconstruct_hio_shard1", [10.0, 20.0], 36)],
        "score": [bench(folder, "score_hio", [3.0], 83)],
        "table": [bench(folder, "table", [7.0], 90)],
    }
    return folder, files


def test_wall_busy_and_job_seconds_of_known_jobs(fake_run):
    _, files = fake_run
    summary = timings.summarise(timings.read_jobs(files))
    assert summary["wall_seconds"] == pytest.approx(90.0)  # first start 0, last end 90
    # busy: [0, 71] holds every job up to train_naive's end, then [80, 90]
    assert summary["busy_seconds"] == pytest.approx(71.0 + 10.0)
    assert summary["job_seconds"] == pytest.approx(4 + 10 + 60 + 20 + 30 + 3 + 7)
    assert summary["jobs"] == 7
    assert summary["first_start_utc"].startswith("2027-01-15T08:00:00")  # T0 in UTC
    stage = summary["stages"]["reconstruct"]
    assert stage == pytest.approx({"jobs": 2, "total_seconds": 50.0, "max_seconds": 30.0,
                                   "from_seconds": 5.0, "to_seconds": 36.0})
    assert summary["stages"]["synthesize"]["to_seconds"] == pytest.approx(11.0)
    assert list(summary["stages"]) == ["synthesize", "reconstruct", "train_naive", "score",
                                       "table"]  # in order of first start


def test_markdown_table_has_one_row_per_stage_with_its_numbers(fake_run):
    _, files = fake_run
    text = timings.to_markdown(timings.summarise(timings.read_jobs(files)), title="T")
    assert "| reconstruct | 2 | 50.0 | 30.0 | 5.0 | 36.0 |" in text
    assert "| train_naive | 1 | 60.0 | 60.0 | 11.0 | 71.0 |" in text
    assert "Wall 90.0 s" in text and "7 jobs" in text
    assert sum(line.startswith("| ") for line in text.splitlines()) == 2 + 5


def test_a_missing_or_foreign_benchmark_file_raises(fake_run, tmp_path):
    _, files = fake_run
    with pytest.raises(FileNotFoundError):
        timings.read_jobs({**files, "figures": [tmp_path / "benchmarks" / "figures.tsv"]})
    foreign = tmp_path / "other.tsv"
    foreign.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="not a Snakemake benchmark"):
        timings.read_jobs({"table": [foreign]})


def test_provenance_records_the_wall_time_and_writes_the_stage_table(fake_run, tmp_path):
    folder, files = fake_run
    extra = bench(folder, "reconstruct_old_method_shard0", [500.0], 2000)  # not of this run
    bench(folder, "provenance", [1.0], 3000)  # the provenance job's own, earlier record
    scores = tmp_path / "scores.csv"
    scores.write_text("method,image,label,offset_row,offset_col,flipped,mse,seconds,residual,"
                      "iterations,stopped,device\nhio,0,1,0,0,False,0.1,1.0,0.0,5,budget,cpu\n"
                      "hio,1,2,0,0,True,0.2,1.0,0.0,5,budget,cpu\n")
    record, table = tmp_path / "provenance.json", tmp_path / "timings.md"
    stages.record_provenance(scores=scores, methods=["hio"], test_images=2, output=record,
                             timings=table, benchmarks=files,
                             benchmark_folder=folder, config={"run": "fake", "seed": 3},
                             repository=tmp_path)
    written = json.loads(record.read_text())
    assert written["wall_seconds"] == pytest.approx(90.0)
    assert written["device"] == "cpu" and written["gpu"] is None and written["seed"] == 3
    assert written["timings"]["jobs"] == 7
    assert written["timings"]["not_covered"] == [extra.name]
    assert "reconstruct (2)" in written["timings"]["covers"]
    assert written["timings"]["reconstruct_by_method"] == {"hio": pytest.approx(
        {"jobs": 2, "total_seconds": 50.0, "max_seconds": 30.0, "from_seconds": 5.0,
         "to_seconds": 36.0})}
    text = table.read_text()
    assert "| table | 1 | 7.0 | 7.0 | 83.0 | 90.0 |" in text
    assert "| hio | 2 | 50.0 | 30.0 | 5.0 | 36.0 |" in text
    assert "reconstruct_old_method_shard0.tsv" in text


def test_jobs_relabelled_by_method_keep_the_run_origin(fake_run):
    _, files = fake_run
    jobs = timings.read_jobs(files)
    by_method = timings.relabel(jobs, "reconstruct", r"reconstruct_(.+)_shard\d+")
    assert [(job.stage, job.job) for job in by_method] == [
        ("hio", "reconstruct_hio_shard0"), ("hio", "reconstruct_hio_shard1")]
    later = timings.summarise(by_method, origin=min(job.start for job in jobs))
    assert later["stages"]["hio"]["from_seconds"] == pytest.approx(5.0)
    assert later["wall_seconds"] == pytest.approx(31.0)  # the method's own: 5 to 36
    with pytest.raises(ValueError, match="does not match"):
        timings.relabel(jobs, "synthesize", r"reconstruct_(.+)_shard\d+")
