# prbench: reproduction of "Deep Learning Initialized Phase Retrieval" (Manekar et al. 2020).
# Run from the repository root:  snakemake            (default config, default profile)
#                                snakemake --configfile config/paper.yaml   (paper scale)
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/learn.smk"
include: "workflow/rules/reconstruct.smk"
include: "workflow/rules/prdeep.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        run_outputs(),
    default_target: True
