"""A suite: the experiments that config/ defines, run one after another with shared artefacts.

`Suite` (gin) lists experiment files: RECALL's grid (joint, then every config x test x replay
source) is one way to list them; `Suite.experiments` lists any others (stream experiments,
each with optional extra bindings and seeds). `SuiteRunner` parses each experiment's gin files
afresh, builds its `TrainManager`, prints the plan (`--dry_run`) or runs it with `Training`,
and finally writes the summary tables and plots.

continual/gin_files.py parses the files and tells what each `--gin_file` is: a suite file, a
stream experiment or a RECALL config. Experiment files given on the command line replace the
suite's list: stream files run as they are, RECALL configs run over the suite's tests and
sources (without joint).
"""

from __future__ import annotations

import collections
import dataclasses
import fnmatch
import logging
from pathlib import Path

import gin
import keras

from continual import lineage, planning
from continual.bindings import OWNERS, check_seed, supplied_configurable
from continual.data.synthetic import generate_synthetic
from continual.data.synthetic_stream import generate_stream_set
from continual.declared_types import check_bound_types
from continual.gin_files import parse_gin, split_gin_files
from continual.replay.standins import build_standins
from continual.replay.web_standin import write_web_standin
from continual.reporting import write_summary
from continual.reporting.claims import check_claim_names, parse_claims
from continual.reporting.plan_table import RUN_NOW, plan_table
from continual.reporting.results_file import machine_line, write_results_file
from continual.store_lock import StageClaimed, hold
from train_manager import TrainManager
from training import Training, make_strategy, records_of

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent

# The embedded default's data, sized by `generate_synthetic.*` bindings in gin.
generate_synthetic = gin.external_configurable(generate_synthetic,
                                               module="continual.data.synthetic",
                                               denylist=["out_dir"])
OWNERS["generate_synthetic.out_dir"] = "Suite.synthetic_data_dir"


@supplied_configurable(root="Suite.replay_standins_dir")
def prepare_replay_standins(root: str, *, size: int = 64, seed: int = 0,
                            web_per_class: int = 40, web_size: int = 80) -> dict:
    """Offline stand-ins with the real interfaces: a BigGAN-signature generator and an image
    classifier (SavedModels loaded by `hub.load`), and a web-crawl folder of another look."""
    built = build_standins(Path(root), size=size, seed=seed)
    built["web"] = write_web_standin(Path(root) / "web", per_class=web_per_class,
                                     size=web_size, seed=seed)
    return built


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    config: str
    test_type: str | None = None
    replay_source: str | None = None
    bindings: tuple[str, ...] = ()


def listed_experiments(entry) -> list[Experiment]:
    """The experiments of one `Suite.experiments` entry: a file path, or a dict with `file`
    and optionally `name`, `bindings` (gin lines) and `seeds` (one experiment per seed, named
    `<name>_seed<s>`; `{seed}` in a binding becomes s, e.g. to link each seed's joint run)."""
    if isinstance(entry, str):
        entry = {"file": entry}
    if not isinstance(entry, dict) or "file" not in entry:
        raise ValueError(f"Suite.experiments entry {entry!r} must be a gin file path or a dict "
                         "with 'file' (and optionally 'name', 'bindings', 'seeds')")
    unknown = set(entry) - {"file", "name", "bindings", "seeds"}
    if unknown:
        raise ValueError(f"Suite.experiments entry {entry!r}: unknown keys {sorted(unknown)}")
    name = entry.get("name") or Path(entry["file"]).stem
    bindings = tuple(entry.get("bindings", ()))
    seeds = entry.get("seeds")
    if seeds is None:
        return [Experiment(name, entry["file"], bindings=bindings)]
    seeds = [check_seed(f"Suite.experiments entry {name!r}: seed", seed)
             for seed in _listed(f"Suite.experiments entry {name!r}: 'seeds'", seeds)]
    return [Experiment(f"{name}_seed{seed}", entry["file"],
                       bindings=(*(b.replace("{seed}", str(seed)) for b in bindings),
                                 f"TrainManager.seed = {seed}"))
            for seed in seeds]


def _listed(binding: str, value) -> list:
    """A list or tuple binding as a list; a single string (or anything else) is refused,
    since iterating it would give its characters."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{binding} = {value!r} must be a list, e.g. [{value!r}]; fix the "
                         "gin binding")
    return list(value)


@gin.configurable
class Suite:
    """The experiments of a suite: joint, the baselines (configs run without replay) on every
    test, then every replay config x test x replay source.

    `synthetic_data_dir`, when set, is filled with the synthetic dataset if it is missing
    (the embedded default); `generate_synthetic.*` bindings choose its size.
    `replay_standins_dir`, when set, gets the offline replay stand-ins if they are missing.
    `claims`: the suite's headline comparisons, (A, relation, B, metric) with relation '>',
    '<' (or '>=' / '<=': not below / not above), A and B experiment names or seed groups
    (`<name>` of `<name>_seed<s>`; B may be 'random init', A's own random-init evaluation),
    checked over seeds by paired differences in the summary (continual.reporting.claims).
    `results_file`, when set, receives the summary stamped with the commit, the command and
    the machine (bootstrap.py's demos write docs/results/<demo>.md; leave it unset for your
    own suites). Neither enters any stage key.
    """

    def __init__(self, name: str = "recall", joint_config: str | None = "config/JOINT.gin",
                 configs=(), tests=(), sources=(None,), baselines=(), experiments=(),
                 synthetic_data_dir: str | None = None, stream_data_dir: str | None = None,
                 replay_standins_dir: str | None = None, note: str = "", claims=(),
                 results_file: str | None = None):
        self.name, self.joint_config, self.note = name, joint_config, note
        self.claims = parse_claims(claims)
        self.results_file = results_file
        self.configs = _listed("Suite.configs", configs)
        self.tests = _listed("Suite.tests", tests)
        self.sources = _listed("Suite.sources", sources)
        self.baselines = _listed("Suite.baselines", baselines)
        self.listed = _listed("Suite.experiments", experiments)
        self.synthetic_data_dir = synthetic_data_dir
        self.stream_data_dir = stream_data_dir
        self.replay_standins_dir = replay_standins_dir

    def experiments(self) -> list[Experiment]:
        found = self.recall_grid()
        for entry in self.listed:
            found += listed_experiments(entry)
        names = [e.name for e in found]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"suite {self.name!r} has several experiments named {repeated}; "
                             "give Suite.experiments entries distinct 'name's")
        return found

    def recall_grid(self) -> list[Experiment]:
        """RECALL's grid: joint, the baselines on every test, every config x test x source."""
        found = []
        if self.joint_config:
            found.append(Experiment(Path(self.joint_config).stem, self.joint_config, "joint",
                                    None))
        for config in self.baselines:
            for test in self.tests:
                found.append(Experiment(f"{Path(config).stem}_{test}", config, test, None))
        for source in self.sources:
            for config in self.configs:
                for test in self.tests:
                    name = f"{Path(config).stem}_{test}" + (f"_{source}" if source else "")
                    found.append(Experiment(name, config, test, source))
        return found

    def replace_experiments(self, recall_configs: list[str], stream_files: list[str], *,
                            rename: bool) -> None:
        """The command line's experiment files instead of the suite's list: RECALL configs
        over the suite's tests and sources (without joint or baselines), stream files as they
        are; `rename` (no suite file given) names the suite after the stream files."""
        if self.claims:  # they name the suite's own experiments, which these replace
            log.info("suite %s: its Suite.claims are left out: the experiment files on "
                     "the command line replace its experiments", self.name)
            self.claims = []
        self.joint_config, self.baselines = None, []
        self.configs, self.listed = recall_configs, stream_files
        if rename:
            self.name = "+".join(Path(f).stem for f in stream_files)


class SuiteRunner:
    """Runs (or plans) the selected experiments of a suite and writes its summary."""

    def __init__(self, suite: Suite, experiments: list[Experiment], gin_files: list[str],
                 gin_params: list[str], workdir: Path, *,
                 summarised: list[Experiment] | None = None, command: str = ""):
        """`summarised`: the experiments the summary covers (default `experiments`): with
        `--only`, the whole suite, so that the selection adds to or updates the workdir's
        summary; `command`: the command line, stamped into the results file."""
        self.suite, self.experiments = suite, experiments
        self.gin_files, self.gin_params = gin_files, gin_params
        self.workdir = Path(workdir)
        self.summary_dir = self.workdir
        self.summarised = experiments if summarised is None else summarised
        self.command, self.shard = command, None

    @classmethod
    def from_args(cls, gin_files, gin_params, workdir, only=(),
                  default_suite: str = "config/suite.gin", shard: str | None = None,
                  command: str = "") -> SuiteRunner:
        suite_files, experiment_files = split_gin_files(list(gin_files), default_suite)
        parse_gin(suite_files, gin_params)
        make_strategy()  # a multi-worker strategy must exist before any TensorFlow op runs
        suite = Suite()
        if experiment_files["recall"] or experiment_files["stream"]:
            suite.replace_experiments(experiment_files["recall"], experiment_files["stream"],
                                      rename=not suite_files)
        summarised = suite.experiments()
        check_claim_names(suite.claims, [e.name for e in summarised])
        experiments = only_matching(summarised, only, suite.name)
        index, count = parse_shard(shard) if shard else (0, 1)
        experiments = shard_of(experiments, index, count, shard)
        prepare_inputs(suite)
        runner = cls(suite, experiments, suite_files, gin_params, workdir,
                     summarised=experiments if shard else summarised, command=command)
        if shard:  # a shard's summary covers what it ran; rerun without --shard for the whole
            runner.summary_dir = Path(workdir) / f"shard-{index}-of-{count}"
            runner.shard = shard
        return runner

    def manager(self, experiment: Experiment) -> TrainManager:
        """The experiment's plan: its file, then the suite files, its bindings, the user's."""
        parse_gin([experiment.config, *self.gin_files],
                  [*experiment.bindings, *self.gin_params])
        check_bound_types()  # every bound value against its declared type, before any use
        return TrainManager(test_type=experiment.test_type,
                            replay_source=experiment.replay_source)

    def experiment_dir(self, experiment: Experiment) -> Path:
        return self.workdir / "experiments" / experiment.name

    def plan_rows(self) -> list[dict]:
        """Every step of every experiment with its key and whether it will train or be reused."""
        rows, first_owner = [], {}
        for experiment in self.experiments:
            training = Training(self.manager(experiment), self.experiment_dir(experiment),
                                experiment.name)
            for step in training.plan:
                owner = first_owner.setdefault((step.kind, step.key), experiment.name)
                if training.manager.is_reused(step):
                    action = "reuse (on disk)"
                elif owner != experiment.name:
                    action = f"reuse (from {owner})"
                else:
                    action = planned_action(training.manager.planner, step.kind)
                    why = lineage.why_train(training.manager.store.root, step,
                                            training.lineage[step.name], experiment.name)
                rows.append({"experiment": experiment.name, "step": step.name,
                             "model": training.manager.planner.model_summary(),
                             "kind": step.kind, "key": step.key, "action": action,
                             **({"why": why} if action in RUN_NOW else {})})
        return rows

    def dry_run_rows(self) -> tuple[list[dict], list[str]]:
        """The plan on a machine that may lack the data, weights or replay folders, and the
        list of what is missing (keys that hash a missing input are placeholders)."""
        with planning.inputs_may_be_missing() as missing:
            rows = self.plan_rows()
        return rows, list(dict.fromkeys(missing))

    def print_plan(self, rows: list[dict] | None = None, missing: list[str] = ()) -> None:
        rows = self.plan_rows() if rows is None else rows
        print(plan_table(self.suite.name, self.suite.note, len(self.experiments), rows, missing))

    def run(self) -> dict[str, list[dict]]:
        if self.suite.note:
            log.info("suite %s: %s", self.suite.name, self.suite.note)
        results = self.train_in_turn()
        paths = write_summary(self.summary_dir, self.summary_records(results), self.suite.claims)
        print((self.summary_dir / "summary.md").read_text())
        log.info("summary written: %s", ", ".join(str(p) for p in paths.values()))
        self.write_results_file(paths["summary_md"])
        return results

    def summary_records(self, results: dict[str, list[dict]]) -> dict[str, list[dict]]:
        """The records of every summarised experiment, in suite order: this run's, else (an
        experiment that `--only` left out) those of its latest run in this workdir, if any."""
        found = {}
        for experiment in self.summarised:
            if experiment.name in results:
                found[experiment.name] = results[experiment.name]
            else:
                records = records_of(self.experiment_dir(experiment) / "metrics.jsonl")
                if records:
                    found[experiment.name] = records
        return found

    def write_results_file(self, summary_md: Path) -> None:
        """The summary, stamped, to `Suite.results_file` (not for a shard: it holds a part)."""
        if not self.suite.results_file:
            return
        if self.shard:
            log.info("Suite.results_file %s not written: shard %s holds part of the suite",
                     self.suite.results_file, self.shard)
            return
        path = write_results_file(Path(self.suite.results_file), summary_md.read_text(),
                                  suite=self.suite.name, command=self.command, repo=ROOT,
                                  machine=machine_line())
        log.info("results file written: %s", path)

    def train_in_turn(self) -> dict[str, list[dict]]:
        """Train every experiment. One whose next stage another process is training goes back
        in the queue while others may run; when every queued one is blocked, it is waited for."""
        queue, results, blocked = collections.deque(self.experiments), {}, 0
        while queue:
            experiment = queue.popleft()
            log.info("experiment %d/%d: %s", self.experiments.index(experiment) + 1,
                     len(self.experiments), experiment.name)
            keras.backend.clear_session()
            training = Training(self.manager(experiment), self.experiment_dir(experiment),
                                experiment.name)
            try:
                results[experiment.name] = training.train(wait_for_claims=blocked >= len(queue))
                blocked = 0
            except StageClaimed as claim:
                log.info("experiment %s waits: %s; another experiment runs first",
                         experiment.name, claim)
                queue.append(experiment)
                blocked += 1
        return {e.name: results[e.name] for e in self.experiments}


def only_matching(experiments: list[Experiment], only, suite_name: str) -> list[Experiment]:
    """The experiments whose name matches a `--only` glob (all of them without `--only`)."""
    if not only:
        return experiments
    matching = [e for e in experiments if any(fnmatch.fnmatch(e.name, p) for p in only)]
    if not matching:
        raise ValueError(f"--only {list(only)} matches no experiment of suite "
                         f"{suite_name!r}; names: {[e.name for e in experiments]}")
    return matching


def planned_action(planner, kind: str) -> str:
    """What computing a stage of `kind` does: evaluate a model, generate data (replay images,
    their labels, a class mapping, inpainted images: nothing is trained) or train."""
    if kind in planner.evaluation_kinds:
        return "evaluate"
    return "generate" if kind in planner.generation_kinds else "train"


def parse_shard(text: str) -> tuple[int, int]:
    """(I, N) of `--shard I/N`: this process runs the suite's experiments I, I+N, I+2N, ..."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise ValueError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. --shard 0/4 "
                         "... --shard 3/4 for a job array of four")
    return int(index), int(count)


def shard_of(experiments: list[Experiment], index: int, count: int,
             shard: str | None) -> list[Experiment]:
    """Shard `index` of `count` (`--shard` as typed): round-robin over the suite's order."""
    if count > len(experiments):
        raise ValueError(f"--shard {shard!r}: the suite has {len(experiments)} experiments "
                         f"(after --only), so shard {count - 1} of {count} would have "
                         f"none; use at most {len(experiments)} shards")
    return experiments[index::count]


def prepare_inputs(suite: Suite) -> None:
    """The suite's generated data and replay stand-ins, each made only where it is missing."""
    if suite.synthetic_data_dir:
        with _preparing(suite.synthetic_data_dir):
            generate_synthetic(out_dir=suite.synthetic_data_dir)
    if suite.replay_standins_dir:
        with _preparing(suite.replay_standins_dir):
            prepare_replay_standins(suite.replay_standins_dir)
    if suite.stream_data_dir:
        with _preparing(suite.stream_data_dir):
            generate_stream_set(out_dir=suite.stream_data_dir)


def _preparing(folder: str):
    """A lock beside `folder` while it is generated, so processes started together take turns
    (the first writes it, the others find it up to date)."""
    path = Path(folder)
    return hold(path.parent / f".{path.name}.lock", poll_seconds=1.0, what=f"preparing {path}")
