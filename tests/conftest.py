"""Shared fixtures: one finished run of the tiny workflow (config/test.yaml) per session."""

import pytest

from workflow_helpers import snakemake, write_config


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """(workdir, config path, config) of a complete run of config/test.yaml. Tests must not
    change it: copy it (``workflow_helpers.copy_run``) before running anything in it."""
    workdir = tmp_path_factory.mktemp("workflow")
    config_path, config = write_config(workdir)
    snakemake(workdir, "--configfile", str(config_path))
    return workdir, config_path, config
