# What the baseline rules (rules/baselines.smk) run and tabulate, and what the report shows of them.
from mfon.baselines.plan import TEXT_INPUT, BaselineRefused, baseline_run


def baseline_models(dataset):
    return DATASETS[dataset]["baselines"]["models"]


def planned_baseline(dataset, model):
    """The params of a baseline's runs; a model that cannot run stops the planning with the reason."""
    try:
        return baseline_run(DATASETS[dataset], model)
    except BaselineRefused as exc:
        raise WorkflowError(str(exc)) from None


def baseline_runs(dataset):
    """(model, seed, run folder) of every baseline run of the dataset, each model checked first."""
    runs = []
    for model in baseline_models(dataset):
        planned_baseline(dataset, model)  # a model that cannot run is refused before anything is built
        runs += [(model, s, layout.baseline_dir(dataset, model, s)) for s in DATASETS[dataset]["experiment"]["seeds"]]
    return runs


def baseline_table_inputs(w):
    """Every file of every baseline run that the table checks (layout.table_inputs), by model."""
    runs = {}
    for model, _, folder in baseline_runs(w.dataset):
        runs.setdefault(model, []).append(folder)
    return layout.table_inputs(runs)


def baseline_table(w):
    """The baselines' table, shown above MFON's rows in the dataset's paper-style table and chart."""
    return [layout.table(w.dataset, "baselines")] if w.table == "table" and baseline_models(w.dataset) else []
