# Used by run_curves, training_overview, prediction_figure, baseline_prediction_figure, table_chart, qc_figure and
# tsne_figure.
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon import plots
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
inp, out, params = snakemake.input, snakemake.output.figure, snakemake.params
if snakemake.rule == "run_curves":
    run_step(plots.plot_run_curves, inp.history, inp.metrics, out, title=params.title)
elif snakemake.rule == "training_overview":
    runs = [{"variant": v, "seed": s, "history": h, "metrics": m}
            for (v, s), h, m in zip(params.runs, inp.histories, inp.metrics)]
    run_step(plots.plot_curves_overview, runs, out, title=params.title)
elif snakemake.rule in ("prediction_figure", "baseline_prediction_figure"):
    run_step(plots.plot_predictions, list(inp.predictions), out, title=params.title, family=params.family)
elif snakemake.rule == "table_chart":
    run_step(plots.plot_table_chart, [*inp.baselines, inp.table], out, title=params.title)
elif snakemake.rule == "qc_figure":
    run_step(plots.plot_qc, inp.clip_status, {"acoustic": inp.acoustic, "visual": inp.visual}, out,
             title=params.title)
elif snakemake.rule == "tsne_figure":
    run_step(plots.plot_tsne, dict(zip(params.variants, inp.representations)), out, title=params.title,
             family=params.family, seed=params.seed)
else:
    raise SystemExit(f"make_figure.py: no figure for rule {snakemake.rule}")
