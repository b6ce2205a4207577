"""Shared fixtures: one finished run of the tiny workflow (config/test.yaml) per session, and
a folder that makes torch unimportable."""

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


@pytest.fixture
def no_torch(tmp_path):
    """A folder whose `torch` package raises ImportError, to put first on PYTHONPATH."""
    package = tmp_path / "no_torch" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('torch is not installed here')\n")
    return package.parent
