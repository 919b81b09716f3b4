"""The one pipeline every reproduction script runs: flags -> runs -> store -> report.

    run_figure(FIGURE, argv)

parses the figure's flags (model protocol, preset, explicit flags), trains whatever runs
the figure needs that are not stored (in this process or on Ray workers), then lets the
figure write its tables, plots and comparison, and writes `run.json`. User errors (bad
data, a mismatched store, results of a larger preset in the way) print one clear message
and exit with status 2, without a traceback. SIGTERM or Ctrl-C stops the study cleanly
(stopping.py): exit status 128 + the signal's number, resumable.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from tf_lottery import cli, machine
from tf_lottery.analysis import provenance, tables
from tf_lottery.config import SettingsError
from tf_lottery.data.datasets import DataError, resolve_data_dir
from tf_lottery import stopping
from tf_lottery.execution import distribute
from tf_lottery.execution import timing
from tf_lottery.execution.scheduling import InProcess, list_plan, run_graph
from tf_lottery.execution.store import StoreCorrupt, StoreMismatch
from tf_lottery.figures import holdings, merging
from tf_lottery.figures.spec import Figure, FigureContext
from tf_lottery.ledger import seeding
from tf_lottery.presets import changed_text
from tf_lottery.ledger.records import LEDGER, Ledger, LedgerError
from tf_lottery.stopping import StopRequested

class ResultsInTheWay(ValueError):
    """The results folder holds results of a larger preset, or of settings the flags do not select."""


def require_writable(folder: Path, flag: str) -> None:
    """Fail before training rather than after it when `folder` cannot be created or written."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise SettingsError(f"{flag} {folder}: {existing} is a file, not a folder.")
    try:  # access() is not enough: root may write anywhere except where the file system refuses
        tempfile.TemporaryDirectory(dir=existing).cleanup()
    except OSError as e:
        raise SettingsError(f"{flag} {folder} cannot be written ({e.strerror} in {existing}); choose another "
                            f"folder with {flag}.") from None


def cpu_share(options: cli.RunOptions) -> timing.CpuShare | None:
    """How this command's runs share this machine's cores (None on GPUs, a TPU or a cluster)."""
    on_gpu = bool(options.gpus_per_worker or (options.workers == 1 and distribute.visible_gpus()))
    return timing.cpu_share(options.threads_per_worker, on_gpu,
                            bool(options.ray_address) or options.strategy != "default")


def configure_process(options: cli.RunOptions) -> None:
    """The thread limit of this process if it trains runs itself; call before any TensorFlow op."""
    if options.workers == 1:
        machine.limit_threads(options.threads_per_worker)


def train_runs(runs, store, is_stored: Callable, factory: Callable, options: cli.RunOptions, describe: Callable,
               log=print, **graph_options) -> tuple[dict, str | None]:
    """Train the missing `runs` in this process (--workers 1) or on Ray workers.

    `factory()` builds the executor (an object with `execute(run)` and `data_source`); on
    Ray each worker calls it once in its own process. `graph_options` go to `run_graph`.
    Returns (run counts, data source). Call `configure_process` first.
    """
    stored = functools.partial(is_stored, store)
    if options.workers == 1:
        executor = factory()
        return run_graph(runs, stored, InProcess(executor), describe, log, **graph_options), \
            getattr(executor, "data_source", None)
    from tf_lottery.execution.ray_workers import RayWorkers  # Ray is only needed for several workers

    with RayWorkers(factory, options.workers, options.threads_per_worker, store, options.ray_address, log,
                    gpus=options.gpus_per_worker) as backend:
        return run_graph(runs, stored, backend, describe, log, **graph_options), backend.data_source


def check_results_folder(out: Path, presets: dict, options: cli.RunOptions, cfg: list, adding: bool = False) -> None:
    """Refuse to replace results of a larger preset (presets are listed largest first), or,
    but for the scratch smoke preset, of settings these flags do not select: more of the
    figure's settings than flags such as --model or --learning-rate select, or others
    (another network, a changed flag), or of the preset changed by other flags (run.json's
    `changed_flags`; results written before it was recorded are not compared)."""
    previous = out / "run.json"
    if options.overwrite or options.add_to_results or not previous.is_file():
        return
    try:
        record = json.loads(previous.read_text())
    except ValueError:
        return
    old, order = record.get("preset"), list(presets)
    if old in order and order.index(old) < order.index(options.preset):
        raise ResultsInTheWay(f"{out} holds results of the larger '{old}' preset. Write the '{options.preset}' "
                              f"preset's results elsewhere (--results DIR) or replace them (--overwrite).")
    if old != options.preset or old == cli.SCRATCH_PRESET:
        return
    held, selected = set(merging.split_hashes(record.get("run_hash"))), set(_run_hashes(cfg))
    if record.get("run_hash") and not held <= selected:
        add = ", add them to those (--add-to-results)" if adding else ""  # a figure that compares settings
        where = f"Write them elsewhere (--results DIR){add} or replace them (--overwrite)."
        if selected < held:
            raise ResultsInTheWay(f"{out} holds results of {len(held)} settings, of which these flags select "
                                  f"{len(selected)}. {where}")
        raise ResultsInTheWay(f"{out} holds results of other settings (run hash {', '.join(sorted(held - selected))}) "
                              f"than these flags select. {where}")
    was, asked = changed_text(record.get("changed_flags", {})), changed_text(options.changed)
    if "changed_flags" in record and was != asked:  # e.g. a shorter --rounds over the full preset's results
        raise ResultsInTheWay(f"{out} holds results of the '{old}' preset {f'with {was}' if was else 'as published'}, "
                              f"these flags ask for it {f'with {asked}' if asked else 'as published'}. Write them "
                              f"elsewhere (--results DIR) or replace them (--overwrite).")


def data_source_record(source: str | None) -> str | None:
    """A data source for run.json: the source kind, or a local folder relative to the project."""
    if source and Path(source).exists():
        return f"local folder {provenance.relative_to_project(source)}"
    return source


def _run_hashes(configs: list) -> list[str]:
    return [c.run_hash() for c in configs]


def run_hash_text(cfg) -> str:
    """The run hashes as run.json and the log show them."""
    return ", ".join(_run_hashes(cfg))


def parse_figure(figure: Figure, argv=None):
    """The figure's flags -> (options, the list of configurations: one per variant, or one)."""
    kind = figure.kind
    return cli.parse_config(argv, figure.description, kind.sections, figure.presets, figure.preset_cost,
                            kind.make_config, data=kind.data, strategies=kind.strategies, protocol=kind.protocol,
                            variants=figure.variants)


def run_figure(figure: Figure, argv=None) -> int:
    """Reproduce `figure`; returns the exit status (0; 2 after a user error; 128 + the
    signal's number after a stop asked for by SIGTERM or Ctrl-C)."""
    options, cfg = parse_figure(figure, argv)
    # The script's command line, also when called from Python: --add-to-results and
    # --report-only parse it again.
    options.command = shlex.join(["python", f"reproductions/{figure.name}.py",
                                  *(sys.argv[1:] if argv is None else map(str, argv))])
    with stopping.handling_signals():
        try:
            report_only(figure, options) if options.report_only else _run_figure(figure, options, cfg)
        except (DataError, StoreMismatch, StoreCorrupt, ResultsInTheWay, merging.CannotAdd,
                SettingsError, LedgerError) as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            return 2
        except StopRequested:  # the study said what it saved
            return stopping.exit_status()
        except KeyboardInterrupt:  # asked twice
            print("Stopped at once.", file=sys.stderr, flush=True)
            return stopping.exit_status()
    return 0


def _run_figure(figure: Figure, options: cli.RunOptions, cfg) -> None:
    started = time.perf_counter()
    out = Path(options.results) / figure.name
    earlier = None
    try:
        check_results_folder(out, figure.presets, options, cfg, adding=bool(figure.variants))
        if options.add_to_results:
            earlier = load_earlier(figure, out, options.preset, cfg)
    except (ResultsInTheWay, merging.CannotAdd) as e:
        if not options.plan:  # a plan writes no results
            raise
        print(f"Note: without --plan this would stop here: {e}", flush=True)
    changed = changed_text(options.changed)
    print(f"{figure.name}: preset '{options.preset}'{f' with {changed}' if changed else ''}, run hash "
          f"{run_hash_text(cfg)}, {options.workers} worker(s)", flush=True)
    configure_process(options)
    strategy = None
    if options.strategy != "default":
        strategy = distribute.make_strategy(options.strategy, options.tpu)
        if not distribute.is_chief(strategy):  # every worker trains every run; only the chief keeps results
            task = strategy.cluster_resolver.task_id
            options.store = str(Path(options.store) / f".worker{task}")
            with tempfile.TemporaryDirectory(prefix=f"tf_lottery-worker{task}-") as scratch:
                return _train_and_report(figure, options, cfg, strategy, Path(scratch) / figure.name, started, None)
    return _train_and_report(figure, options, cfg, strategy, out, started, earlier)


def _train_and_report(figure: Figure, options: cli.RunOptions, cfg, strategy, out: Path, started: float,
                      earlier: merging.EarlierResults | None) -> None:
    kind = figure.kind
    for folder, flag in ((Path(options.store), "--store"), (out, "--results")):
        try:
            require_writable(folder, flag)
        except SettingsError as e:
            if not options.plan:  # a plan writes nothing, so it can read a store it cannot write
                raise
            print(f"Note: without --plan this would stop here: {e}", flush=True)
    # Absolute, and the environment variable read here: workers on a Ray cluster share
    # neither this process's working directory nor its environment.
    data_dir = resolve_data_dir(options.data_dir) if kind.data else None
    data_dir = data_dir and data_dir.resolve()
    try:  # a clear error here rather than inside every worker (one process reads the data itself)
        kind.check(cfg, data_dir, Path(options.store), load_data=options.workers > 1, read_only=options.plan)
    except DataError:  # a ValueError too, but already a user's message
        raise
    except ValueError as e:
        raise SettingsError(str(e)) from None
    runs = figure_runs(figure, cfg)
    store = kind.open_store(options.store, cfg, runs, read_only=options.plan)
    sources = read_ledgers(out, options.ledgers)
    try:
        shown = earlier_runs(figure, earlier, sources)
    except merging.CannotAdd as e:
        if not options.plan:
            raise
        print(f"Note: without --plan this would stop here: {e}", flush=True)
        shown = []
    if earlier is not None:
        print(merging.describe(earlier, out, len(shown)), flush=True)
    runs, restored = seeding.restore(sources, store, runs, kind.is_stored, functools.partial(kind.reads, cfg),
                                     kind.with_weights, dry_run=options.plan)
    if restored:
        print(f"{len(restored)} run(s) come from results ledgers, not trained again "
              f"({', '.join(provenance.relative_to_project(p) for p in ledger_folders(out, options.ledgers))})",
              flush=True)
    def recorded(run) -> dict | None:  # a plan's estimate counts the times the ledgers recorded
        run_store, key = store.locate(run.key)
        entry = sources.runs.get((run_store.dir.name, key))
        return entry and entry.metrics

    graph_options = kind.graph_options(cfg, store, cpu_share(options), recorded)
    if options.plan:
        from_ledger = restored - {r.key for r in runs if getattr(r, "weights", False)}  # flagged: retrained
        list_plan(runs, lambda r: kind.is_stored(store, r) or r.key in from_ledger, options.workers, print,
                  restored=from_ledger, **graph_options)
        return
    tensorboard = options.tensorboard  # absolute for workers elsewhere, unless a URL (gs://...)
    if tensorboard and "://" not in tensorboard:
        tensorboard = str(Path(tensorboard).resolve())
    factory = functools.partial(kind.executor, cfg, data_dir, Path(options.store).resolve(), strategy,
                                options.xla, tensorboard)
    try:
        stats, source = train_runs(runs, store, kind.is_stored, factory, options, kind.describe, **graph_options)
    except StopRequested:  # keep what was finished where it outlives this machine
        _, ledger_bytes = save_ledger(out, store, runs, options.overwrite, figure.kind, shown, sources)
        print(f"Finished runs are in {out / LEDGER} ({sum(ledger_bytes.values()) / 1e6:.1f} MB): the same command "
              "continues from there, on this machine or another.", file=sys.stderr, flush=True)
        raise
    stats = {**stats, "from_ledgers": len(restored)}
    ledger, ledger_bytes = save_ledger(out, store, runs, options.overwrite, figure.kind, shown, sources)
    context = report_context(figure, cfg, options, ledger, runs, out, earlier)
    # Float results of one run differ between CPU generations: say which ones these came from.
    trained_on = collections.Counter(context.store.metrics(r.key).get("trained_on", tables.NOT_RECORDED)
                                     for r in context.runs)
    extra = figure.report(context)
    config = [dataclasses.asdict(c) for c in cfg]
    provenance.write_run_json(
        out / "run.json", options.command, figure=figure.name, preset=options.preset, changed_flags=options.changed,
        reduced=context.reduced,
        **merging.merged_record(earlier, config, _run_hashes(cfg)),
        store=provenance.relative_to_project(options.store),
        data_source=data_source_record(source), runs=stats, trained_on=dict(trained_on.most_common()),
        execution=options.execution(),
        wall_seconds=round(time.perf_counter() - started, 1),
        holds=[s.record() for s in context.settings],
        ledger={"runs": len(ledger), "bytes": ledger_bytes}, **extra)
    print(f"Results in {out} (ledger: {len(ledger)} runs, {sum(ledger_bytes.values()) / 1e6:.1f} MB)")


def save_ledger(out: Path, store, runs, replace: bool, kind=None, shown=(), sources: Ledger | None = None) \
        -> tuple[Ledger, dict[str, int]]:
    """Record the stored ones of `runs` in `out`'s ledger (added to the runs it holds, unless
    `replace`), with the earlier commands' runs `shown` as `sources` hold them; returns the
    ledger as written, which is all a report then reads, and its sizes."""
    out.mkdir(parents=True, exist_ok=True)
    ledger = seeding.record(store, runs, Ledger() if replace else Ledger.read(out))
    for run in shown:
        address = kind.address(run)
        if not ledger.has(*address):
            ledger.add(*address, sources.runs[address], **sources.store_record(address[0]))
    sizes = ledger.write(out)
    return Ledger.read(out), sizes


def load_earlier(figure: Figure, out: Path, preset: str, cfg) -> merging.EarlierResults | None:
    """With --add-to-results: the earlier commands of `out` and their settings these flags do not select."""
    def configs_of(command: str) -> list:
        try:
            return parse_figure(figure, shlex.split(command)[2:])[1]
        except SystemExit:
            raise merging.CannotAdd(f"{out}/run.json records a command today's code cannot parse ({command}); "
                                    "write these results elsewhere (--results DIR).") from None
    return merging.load(out, figure.name, preset, _run_hashes(cfg), configs_of)


def earlier_runs(figure: Figure, earlier: merging.EarlierResults | None, ledger: Ledger) -> list:
    """The runs the earlier commands report, all of which `ledger` must hold."""
    if earlier is None:
        return []
    runs = figure_runs(figure, earlier.configs)
    missing = [r.key for r in runs if not ledger.has(*figure.kind.address(r))]
    if missing:
        raise merging.CannotAdd(f"The results ledgers lack {len(missing)} of the {len(runs)} runs the earlier "
                                f"commands in run.json report (first: {missing[0]}). Name the folder that holds "
                                "them with --from DIR.")
    return runs


def report_context(figure: Figure, cfg, options: cli.RunOptions, ledger: Ledger, runs: list, out: Path,
                   earlier: merging.EarlierResults | None) -> FigureContext:
    """What a report reads: these flags' configurations and runs, with the earlier commands'
    (--add-to-results) first, all from `ledger`, each described against its preset."""
    if earlier is not None:
        cfg = earlier.configs + cfg
        runs = list({r.key: r for r in earlier_runs(figure, earlier, ledger) + runs}.values())
    store = figure.kind.report_store(ledger, cfg)
    return FigureContext(figure, cfg, options, store, runs, out, earlier,
                         describe_settings(figure, cfg, runs, store, options.preset))


def describe_settings(figure: Figure, configs: list, runs: list, store, preset: str) -> list:
    """Each configuration with the runs shown of it, against the configuration its preset
    gives for the same setting and the runs that one plans."""
    compared = holdings.compared_fields(figure.variants)
    published = parse_figure(figure, ["--preset", preset])[1]
    out = []
    for cfg in configs:
        values = holdings.compared_values(cfg, compared)
        same = [p for p in published if holdings.compared_values(p, compared) == values]
        reference = same[0] if same else parse_figure(figure, ["--preset", preset, "--model", cfg.training.model])[1][0]
        shown = [r for r in runs if getattr(r, "cfg", cfg) == cfg]
        machines = collections.Counter(store.metrics(r.key).get("trained_on", tables.NOT_RECORDED) for r in shown)
        out.append(holdings.setting(cfg, reference, compared, [getattr(r, "run", r) for r in shown],
                                    [getattr(r, "run", r) for r in figure_runs(figure, [reference])
                                     if getattr(r, "cfg", reference) == reference], dict(machines.most_common())))
    return out


def figure_runs(figure: Figure, cfg) -> list:
    """The runs `figure` reports for `cfg`, with their dependencies, test curves where it plots them."""
    curves = figure.curve_runs(cfg)
    return figure.kind.with_dependencies([dataclasses.replace(r, test_curve=True) if r.key in curves else r
                                          for r in figure.select(cfg)])


def ledger_folders(out: Path, extra: list[str]) -> list[Path]:
    """The results folders whose ledgers a study reuses: its own, then each --from."""
    folders = [out]
    for given in extra:
        folder = Path(given)
        folder = folder.parent if folder.name == LEDGER else folder
        if not (folder / LEDGER / "runs.jsonl").is_file():
            raise SettingsError(f"--from {given}: no results ledger there (expected {folder / LEDGER}/runs.jsonl).")
        folders.append(folder)
    return folders


def read_ledgers(out: Path, extra: list[str]) -> Ledger:
    merged = Ledger()
    for folder in ledger_folders(out, extra):
        merged.merge(Ledger.read(folder))
    return merged


def report_only(figure: Figure, options: cli.RunOptions) -> None:
    """Rebuild `figure`'s results folder from its ledger, as the command in its run.json chose."""
    out = Path(options.results) / figure.name
    record_path = out / "run.json"
    if not record_path.is_file():
        raise SettingsError(f"--report-only: {out} holds no results (no run.json) to rebuild.")
    record = json.loads(record_path.read_text())
    recorded, cfg = parse_figure(figure, shlex.split(record["command"])[2:])
    recorded.results = options.results
    ledger = Ledger.read(out)
    if not len(ledger):
        raise SettingsError(f"--report-only: {out} has no ledger; run the figure's command to make one.")
    runs = figure_runs(figure, cfg)
    view = figure.kind.report_store(ledger, cfg)
    missing = [r.key for r in runs if not view.has(r.key)]
    if missing:
        raise SettingsError(f"--report-only: the ledger of {out} lacks {len(missing)} of the {len(runs)} runs its "
                            f"command reports (first: {missing[0]}); run the command to train them.")
    earlier = load_earlier(figure, out, recorded.preset, cfg) if recorded.add_to_results else None
    context = report_context(figure, cfg, recorded, ledger, runs, out, earlier)
    record.update(reduced=context.reduced, **figure.report(context), holds=[s.record() for s in context.settings])
    record_path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    print(f"Rebuilt {out} from its ledger ({len(ledger)} runs); run.json keeps its training record, with the "
          "fields the report computes rewritten.")
