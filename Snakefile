# prbench: reproduction of "Deep Learning Initialized Phase Retrieval" (Manekar et al. 2020).
# Run from the repository root:  snakemake            (config/config.yaml, default profile)
#                                snakemake --configfile config/paper.yaml   (that file alone)
import os

import yaml
from snakemake.utils import min_version, validate

from prbench.config import check_values

min_version("9.19")  # the first 9.x that reads profiles named profile.yaml


# A config is the whole config: config/config.yaml (beside this Snakefile) is loaded only
# when no --configfile is given, so that a user's file replaces it instead of being merged
# on top of it (`--config key=value` still overrides single keys of whichever file is used).
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# Numbers YAML read as text and NaN/infinities first (the schema would pass them or not say
# why), then the schema (types, ranges, defaults); common.smk checks what the schema cannot.
check_values(config)
SCHEMA = "workflow/schemas/config.schema.yaml"
validate(config, SCHEMA)
with open(os.path.join(workflow.basedir, SCHEMA)) as schema_file:
    SCHEMA = yaml.safe_load(schema_file)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/support.smk"
include: "workflow/rules/reconstruct.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/report.smk"


check_benchmarks(workflow.rules)


rule all:
    default_target: True
    input:
        run_outputs(),
