# Configuration resolution and the helpers the rules share. Imports nothing heavy (no torch): a dry run of a
# large dataset plans in seconds. Paths come from mfon.layout, the one home of the results/ layout.
import hashlib
import re
import sys
from pathlib import Path

from mfon import layout
from mfon import console
from mfon.codegraph import code_files, write_fingerprint
from mfon.config import (canonical, command_line_overrides, dataset_settings, deep_merge, load_yaml,
                         refuse_repeated_keys, unknown_dataset_message, validate_config)
from mfon.experiment import (EXPERIMENT_SECTIONS, extraction_settings, search_trial_settings,
                             shared_setting_changes, teacher_settings, variant_settings)
from mfon.features.registry import extractor_module, extractor_modules
from mfon.variants import VARIANTS
from snakemake.exceptions import WorkflowError

refuse_repeated_keys(workflow.configfiles)  # Snakemake's YAML reader lets a repeated key silently win
validate_config(config)
# --configfile / --config values win over dataset files (README "Configuration").
CLI_OVERRIDES = command_line_overrides(workflow.config_settings.overwrite_config)
# Short job headers and the whole run's remaining time on the console; the full headers stay in .snakemake/log/.
console.install(workflow)


def _dataset_file_dir(name):
    """Dataset files are looked up in the working directory first, then beside the Snakefile."""
    relative = config["datasets"][name]
    return "." if Path(relative).is_file() else workflow.basedir


DATASETS = {name: dataset_settings(config, name, _dataset_file_dir(name), overrides=CLI_OVERRIDES)
            for name in config["datasets"]}
# The experiment this command runs (README "Experiments side by side"): None, the default, laid out as always;
# a named one's runs and tables lie in its own folder, and only its own files are made here.
EXPERIMENT = config["experiment_name"]


def _configuration_files_settings():
    """Every dataset's settings from the configuration files alone (no --configfile / --config values): those of
    the default experiment, whose teachers and features a named experiment shares."""
    given = {Path(f).resolve() for f in workflow.config_settings.configfiles}
    base = {}
    for path in workflow.configfiles:
        if Path(path).resolve() not in given:
            base = deep_merge(base, load_yaml(path) or {})
    base = validate_config({**base, "datasets": config["datasets"], "targets": config["targets"],
                            "experiment_name": None})
    return {name: dataset_settings(base, name, _dataset_file_dir(name)) for name in base["datasets"]}


DEFAULT_DATASETS = DATASETS if EXPERIMENT is None else _configuration_files_settings()
for _name, _settings in DATASETS.items():
    _changed = shared_setting_changes(DEFAULT_DATASETS[_name], _settings)
    if _changed:
        raise WorkflowError(
            f"experiment {EXPERIMENT!r} changes {', '.join(_changed)} of dataset {_name!r}: every experiment shares "
            f"the dataset's features, ingest and baselines, so a named experiment may change only "
            f"{', '.join(EXPERIMENT_SECTIONS)}; register a second dataset to vary the others (README \"Experiments "
            "side by side\")")
DEMO_ROOTS = {s["root"]: s for s in DATASETS.values() if "demo" in s}
RAW_DATASETS = [n for n, s in DATASETS.items() if s["source"]["kind"] == "raw"]
IMPORTED_DATASETS = [n for n, s in DATASETS.items() if s["source"]["kind"] == "mmsa_pickle"]


def one_of(names):
    """A wildcard regex matching exactly ``names`` (and nothing when the list is empty)."""
    return "|".join(map(re.escape, names)) or "(?!)"


wildcard_constraints:
    dataset=one_of(DATASETS),
    modality=one_of(layout.FRAME_MODALITIES),
    seed=r"\d+",
    variant=one_of(VARIANTS),
    trial=r"\d+",
    shard=r"\d+",
    n_shards=r"\d+",


# Cheap bookkeeping jobs run on the submitting host, never as cluster jobs.
localrules:
    all,
    demo_corpus,
    merge_features,
    clip_status,
    modality_clip_status,
    table,
    experiments_table,
    search_summary,
    # figures and analysis tables (rules/report.smk): read small files, draw or write one
    run_curves,
    training_overview,
    prediction_figure,
    table_chart,
    qc_figure,
    merged_predictions,
    paper_table,


def settings(wildcards):
    return DATASETS[wildcards.dataset]


def code(script, skip=(), also=()):
    """A fingerprint of the mfon source files ``workflow_scripts/<script>`` runs (its import closure, less the
    modules in ``skip``, plus those in ``also``), an input so that editing one of them reruns exactly the rules
    that run it. One file, not the modules themselves: a job's header on the console stays short."""
    files = code_files(Path(workflow.basedir) / "workflow_scripts" / script, workflow.basedir, tuple(skip),
                       tuple(also))
    selection = repr((sorted(skip), sorted(also)))
    name = Path(script).stem + (f"-{hashlib.sha256(selection.encode()).hexdigest()[:10]}" if skip or also else "")
    about = f"mfon modules workflow_scripts/{script} runs" + (f" (skip, also: {selection})" if skip or also else "")
    return write_fingerprint(layout.code_fingerprint(name), files, workflow.basedir, about)


def final_targets(dataset):
    """What a bare `snakemake` builds for ``dataset``: features, every run's files (so that runs deleted by a
    killed forced rerun are noticed while the tables still exist), the teachers' checkpoints and the tables; the
    experiments table when there is a named experiment (this one, or one with finished runs)."""
    experiment = DATASETS[dataset]["experiment"]
    variants = list(dict.fromkeys(experiment["variants"] + experiment["ablation_variants"]))
    runs = [*[path for v in variants for s in experiment["seeds"]
              for path in layout.run_outputs(run_path(dataset, v, s)).values()],
            *teacher_checkpoints(dataset, variants)]
    targets = [*[layout.features(dataset, m) for m in layout.MODALITIES], layout.clip_status(dataset), *runs,
               layout.table(dataset, experiment=EXPERIMENT)]
    if experiment["ablation_variants"]:
        targets.append(layout.table(dataset, "ablation", experiment=EXPERIMENT))
    if search_enabled(dataset):
        targets.append(layout.table(dataset, "search", experiment=EXPERIMENT))
    if baseline_models(dataset) and EXPERIMENT is None:  # rules/baselines.smk; shared by every experiment
        targets.append(layout.table(dataset, "baselines"))
    if EXPERIMENT is not None or any(experiment for experiment, _, _ in experiment_groups(dataset)):
        targets.append(layout.table(dataset, "experiments"))
    return targets


# ----------------------------------------------------------------------------------------- feature stage

def extraction_code(w):
    """What a shard job of ``w.modality`` runs: of the registry's extractor modules, only the dataset's selected
    one, so that editing another extractor reruns nothing here (a merge runs none of them)."""
    used = extractor_module(w.modality, settings(w)[w.modality])
    return code("extract_features.py", skip=[m for m in extractor_modules() if m != used], also=[used])


def extraction_params(w):
    """Exactly the settings that shape ``w.modality``'s features (a device or a CSV folder another backend
    reads are left out), canonical."""
    return extraction_settings(settings(w), w.modality)


def shard_files(ext):
    def files(w):
        n = settings(w)["extraction"]["shards"]
        return [layout.feature_shard(w.dataset, w.modality, k, n, ext) for k in range(n)]

    return files


def modality_status_inputs(w):
    """A raw dataset's per-modality status comes from that modality's report alone; an imported dataset's
    from the import's status (one pickle makes every modality)."""
    if w.dataset in IMPORTED_DATASETS:
        return {"status": layout.clip_status(w.dataset)}
    one = w.single_modality
    made_by = layout.features(w.dataset, "text") if one == "text" else layout.modality_report(w.dataset, one)
    return {"rejected": layout.rejected(w.dataset), "manifest": layout.manifest(w.dataset), one: made_by}


# ----------------------------------------------------------------------------------------- learning stage

def training_inputs(dataset, modalities):
    """Named inputs of a run on ``modalities``: the manifest, the clip status of exactly those modalities
    (so that a change to another modality's features never touches it) and their feature files."""
    modalities = [m for m in layout.MODALITIES if m in modalities]
    status = layout.clip_status(dataset) if len(modalities) > 1 else layout.clip_status(dataset, modalities[0])
    return {"manifest": layout.manifest(dataset), "clip_status": status,
            **{m: layout.features(dataset, m) for m in modalities}}


def distillation_inputs(dataset, teachers, seed):
    """What a run distils from, named teacher_<modality>: in `fixed` fidelity each teacher's stored vectors
    (computed once per teacher and seed), in `paper` fidelity the checkpoints (run in train mode each step)."""
    if DATASETS[dataset]["model"]["fidelity"] == "paper":
        return {f"teacher_{m}": layout.run_outputs(layout.teacher_dir(dataset, m, seed, teacher_home(dataset, m)))[
                    "checkpoint"] for m in teachers}
    return {f"teacher_{m}": layout.teacher_targets(dataset, m, seed, teacher_home(dataset, m)) for m in teachers}


def teacher_params(resolved, modality):
    """Everything a teacher's run depends on besides its seed and inputs (train_teacher's params), from a
    dataset's ``resolved`` settings (DATASETS or DEFAULT_DATASETS)."""
    return {"run": teacher_settings(resolved, modality), "metrics": resolved["experiment"]["metrics"]}


def teacher_home(dataset, modality):
    """Whose folder holds the teachers of ``modality`` this command's runs distil from: the default's (None)
    when this experiment would train them exactly as the default does, else this named experiment's."""
    same = teacher_params(DATASETS[dataset], modality) == teacher_params(DEFAULT_DATASETS[dataset], modality)
    return None if same else EXPERIMENT


def variant_inputs(w):
    run = variant_settings(settings(w), w.variant)
    return {**training_inputs(w.dataset, run["modalities"]),
            **distillation_inputs(w.dataset, run["teachers"], w.seed)}


def search_enabled(dataset):
    return DATASETS[dataset]["experiment"]["search"]["trials"] > 0


def search_seed(dataset):
    return DATASETS[dataset]["experiment"]["seeds"][0]


def full_model_inputs(dataset, seed):
    """Inputs of a full-model run (search trial, tuned run): every modality and the seed's teachers."""
    run = variant_settings(DATASETS[dataset], "mfon")
    return {**training_inputs(dataset, run["modalities"]), **distillation_inputs(dataset, run["teachers"], seed)}


def training_threads(w):
    return settings(w)["runtime"]["threads"]


def training_resources(kind):
    """Scheduler resources of a training job (kind: teacher or train) from the dataset's runtime section;
    none of them is a param, so changing them reruns nothing."""
    def resource(name):
        return lambda w: settings(w)["runtime"][f"{kind}_{name}"]

    return {"mem_mb": resource("mem_mb"), "runtime": resource("minutes"),
            "gpu": lambda w: settings(w)["runtime"]["gpus"],
            "device": lambda w: settings(w)["runtime"]["device"],
            "bf16": lambda w: int(settings(w)["runtime"]["bf16"])}


# A metric table's kind: the experiment list of the variants that are its rows.
TABLE_VARIANTS = {"table": "variants", "ablation": "ablation_variants"}


def table_variants(w):
    return settings(w)["experiment"][TABLE_VARIANTS[w.table]]


def table_inputs(w):
    """Every file of every run the table summarises that the table checks (layout.table_inputs), and the
    checkpoints of the teachers those runs distilled from: declared, so that a missing one is retrained
    when the table is rebuilt (README "After a killed run")."""
    variants = table_variants(w)
    runs = {v: [run_path(w.dataset, v, s) for s in settings(w)["experiment"]["seeds"]] for v in variants}
    return {**layout.table_inputs(runs), "teachers": teacher_checkpoints(w.dataset, variants)}


def experiments_table_inputs(w):
    """The files the experiments table checks of every run it compares, group i (experiment_groups) named
    g<i>_<file name> (layout.table_inputs)."""
    return layout.table_inputs({f"g{i}": folders for i, (_, _, folders) in enumerate(experiment_groups(w.dataset))})


def teacher_runs(dataset, variants):
    """(modality, seed, run folder) of the teachers ``variants`` distil from, over the dataset's seeds."""
    experiment = DATASETS[dataset]["experiment"]
    modalities = dict.fromkeys(m for v in variants for m in variant_settings(DATASETS[dataset], v)["teachers"])
    return [(m, s, layout.teacher_dir(dataset, m, s, teacher_home(dataset, m)))
            for m in modalities for s in experiment["seeds"]]


def teacher_checkpoints(dataset, variants):
    """The checkpoints of the teachers ``variants`` distil from, over the dataset's seeds."""
    return [layout.run_outputs(folder)["checkpoint"] for _, _, folder in teacher_runs(dataset, variants)]


def run_path(dataset, variant, seed):
    """Where a variant's run of ``seed`` lives; with a search, the full model's row is the retrained winner."""
    return layout.run_dir(dataset, variant, seed, tuned=variant == "mfon" and search_enabled(dataset),
                          experiment=EXPERIMENT)


def experiment_groups(dataset):
    """(experiment, variant, run folders) of every experiment the experiments table compares: this one's
    configured runs (made here when missing), then the finished runs other experiments left (files this command
    reads but never makes); experiment None is the default, a tuned run's variant is `mfon_tuned`."""
    mine = [run_path(dataset, v, s) for v in run_variants(dataset) for s in DATASETS[dataset]["experiment"]["seeds"]]
    groups = {}
    for folder in mine + [f for f in layout.experiment_runs(dataset) if layout.parse_run_dir(f)["experiment"]
                          != EXPERIMENT]:
        run = layout.parse_run_dir(folder)
        variant = "mfon_tuned" if run["tuned"] else run["variant"]
        groups.setdefault((run["experiment"], variant), []).append((run["seed"], folder))
    # The default first, then the named ones by name; each experiment's variants in the order found (configured).
    order = sorted(groups, key=lambda key: (key[0] is not None, key[0] or ""))
    return [(experiment, variant, [folder for _, folder in sorted(groups[experiment, variant])])
            for experiment, variant in order]


def search_trials(w):
    n = settings(w)["experiment"]["search"]["trials"]
    return [layout.run_outputs(layout.trial_dir(w.dataset, t, EXPERIMENT))["metrics"] for t in range(n)]


def mmsa_pickle(w):
    """The dataset's pickle; a missing one stops the run (dry runs too) saying where to put it."""
    source = settings(w)["source"]
    path = source["pickle"]
    if not Path(path).is_file():
        raise WorkflowError(
            f"dataset {w.dataset!r}: MMSA feature pickle not found at {path!r}. Put MMSA's processed "
            f"{Path(path).name} there (or set source.pickle in {config['datasets'][w.dataset]}); "
            "see README 'Reproducing the paper'."
        )
    return path


def raise_unknown_dataset(w):
    """Input function of the unknown_dataset step (rules/unknown_dataset.smk); it always stops the planning."""
    name = layout.dataset_of(w.unknown_target)
    raise WorkflowError(unknown_dataset_message(name, list(DATASETS), config_file="config/config.yaml"))


def report_request():
    """The targets of a `snakemake --report` command line ([] for the default target), or None when it makes no
    report. The Snakefile is parsed before Snakemake hands the report request to the workflow, so it is read from
    the command line, with Snakemake's own parser."""
    if not any(arg == "--report" or arg.startswith("--report=") for arg in sys.argv[1:]):
        return None
    from snakemake.cli import get_argument_parser

    try:
        args, _ = get_argument_parser().parse_known_args(sys.argv[1:])
    except (SystemExit, Exception):  # not Snakemake's command line (the API): no check
        return None
    return list(args.targets) if args.report else None


def refuse_report_on_missing_files(default_targets):
    """`--report` on results that are not there (a run made with other --config values, or not run yet) ends in
    a hundred "Missing metadata" lines and "marked for report but does not exist": say once what is missing and
    which command makes it."""
    targets = report_request()
    if targets is None:
        return
    files = [t for t in targets if t not in {rule.name for rule in workflow.rules}] or list(default_targets)
    missing = [path for path in files if not Path(path).exists()]
    if missing:
        overrides = CLI_OVERRIDES or "none"
        raise WorkflowError(
            f"--report: {len(missing)} of the {len(files)} files it reports on are not made (e.g. "
            f"{', '.join(missing[:3])}). The report covers the run these command-line options configure: if the "
            "run was made with --config or --configfile values, give --report the same ones (this command's "
            "values: "
            f"{overrides}); otherwise make the files first with the same options without --report "
            "(README \"Looking at results\", docs/report.md)."
        )
