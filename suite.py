"""A suite: the experiments that config/ defines, run one after another with shared artefacts.

`Suite` (gin) lists experiment files: RECALL's grid (joint, then every config x test x replay
source) is one way to list them; `Suite.experiments` lists any others (stream experiments,
each with optional extra bindings and seeds). `SuiteRunner` parses each experiment's gin files
afresh, builds its `TrainManager`, prints the plan (`--dry_run`) or runs it with `Training`,
and finally writes the summary tables and plots.

What `--gin_file` files are: a file that binds `Suite.*` is a suite file (its values apply to
every experiment); a file that binds `TrainManager.plan_kind` is a stream experiment; any other
file is a RECALL experiment config. Experiment files given on the command line replace the
suite's list: stream files run as they are, RECALL configs run over the suite's tests and
sources (without joint).
"""

from __future__ import annotations

import collections
import dataclasses
import fnmatch
import functools
import logging
from pathlib import Path

import gin
import keras

from continual import lineage, planning
from continual.bindings import OWNERS, check_seed, explain_refused_binding, supplied_configurable
from continual.data.synthetic import generate_synthetic
from continual.data.synthetic_stream import generate_stream_set
from continual.declared_types import check_bound_types
from continual.errors import InputError
from continual.replay.standins import build_standins
from continual.replay.web_standin import write_web_standin
from continual.reporting import write_summary
from continual.reporting.claims import check_claim_names, parse_claims
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


def resolve_gin_file(path: str) -> str:
    """A gin file path as given (relative to the working folder) or relative to the repo."""
    for candidate in (Path(path), ROOT / path):
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError(f"gin file {path} does not exist (looked in . and {ROOT}); "
                            "check --gin_file or the Suite.configs list")


@functools.cache
def _add_search_path_once() -> None:
    gin.add_config_file_search_path(str(ROOT))


def parse_gin(files: list[str], params: list[str]) -> None:
    """Clear gin, then parse `files` in order and `params` last (includes resolve from the repo)."""
    gin.clear_config()
    _add_search_path_once()
    try:
        gin.parse_config_files_and_bindings([resolve_gin_file(f) for f in files], params)
    except ValueError as err:  # a refused binding names the one to use instead
        raise explain_refused_binding(err) from err
    except SyntaxError as err:  # gin's parser reports the file (None: a --gin_param) and line
        where = f"{err.filename}, line {err.lineno}" if err.filename else "--gin_param"
        raise InputError(f"gin syntax error in {where}: {err.msg} ({(err.text or '').strip()!r})"
                         "; fix that line") from err


def file_role(path: str) -> str:
    """'suite' (binds Suite.*), 'stream' (binds TrainManager.plan_kind) or 'recall'."""
    parse_gin([path], [])
    if gin.get_bindings("Suite"):
        return "suite"
    return "stream" if "plan_kind" in gin.get_bindings("TrainManager") else "recall"


def split_gin_files(gin_files: list[str], default_suite: str) -> tuple[list[str], dict]:
    """(suite files, experiment files by role) of the command line's --gin_file list.

    RECALL configs need a suite's tests and sources: with no suite file given, the default
    suite's are used.
    """
    roles = {path: file_role(path) for path in gin_files}
    suites = [path for path in gin_files if roles[path] == "suite"]
    by_role = {role: [p for p in gin_files if roles[p] == role] for role in ("recall", "stream")}
    if not suites and (by_role["recall"] or not gin_files):
        suites = [default_suite]
    return suites, by_role


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
            if suite.claims:  # they name the suite's own experiments, which these replace
                log.info("suite %s: its Suite.claims are left out: the experiment files on "
                         "the command line replace its experiments", suite.name)
                suite.claims = []
            suite.joint_config, suite.baselines = None, []
            suite.configs = experiment_files["recall"]
            suite.listed = experiment_files["stream"]
            if not suite_files:
                suite.name = "+".join(Path(f).stem for f in experiment_files["stream"])
        experiments = suite.experiments()
        check_claim_names(suite.claims, [e.name for e in experiments])
        summarised = experiments
        if only:
            experiments = [e for e in experiments if any(fnmatch.fnmatch(e.name, p) for p in only)]
            if not experiments:
                raise ValueError(f"--only {list(only)} matches no experiment of suite "
                                 f"{suite.name!r}; names: {[e.name for e in suite.experiments()]}")
        index, count = parse_shard(shard) if shard else (0, 1)
        if count > len(experiments):
            raise ValueError(f"--shard {shard!r}: the suite has {len(experiments)} experiments "
                             f"(after --only), so shard {count - 1} of {count} would have "
                             f"none; use at most {len(experiments)} shards")
        experiments = experiments[index::count]  # round-robin over the suite's order
        if suite.synthetic_data_dir:
            with _preparing(suite.synthetic_data_dir):
                generate_synthetic(out_dir=suite.synthetic_data_dir)
        if suite.replay_standins_dir:
            with _preparing(suite.replay_standins_dir):
                prepare_replay_standins(suite.replay_standins_dir)
        if suite.stream_data_dir:
            with _preparing(suite.stream_data_dir):
                generate_stream_set(out_dir=suite.stream_data_dir)
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
                    evaluation = step.kind in training.manager.planner.evaluation_kinds
                    action = "evaluate" if evaluation else "train"
                    why = lineage.why_train(training.manager.store.root, step,
                                            training.lineage[step.name], experiment.name)
                rows.append({"experiment": experiment.name, "step": step.name,
                             "model": training.manager.planner.model_summary(),
                             "kind": step.kind, "key": step.key, "action": action,
                             **({"why": why} if action in ("train", "evaluate") else {})})
        return rows

    def dry_run_rows(self) -> tuple[list[dict], list[str]]:
        """The plan on a machine that may lack the data, weights or replay folders, and the
        list of what is missing (keys that hash a missing input are placeholders)."""
        with planning.inputs_may_be_missing() as missing:
            rows = self.plan_rows()
        return rows, list(dict.fromkeys(missing))

    def print_plan(self, rows: list[dict] | None = None, missing: list[str] = ()) -> None:
        rows = self.plan_rows() if rows is None else rows
        print(f"# Plan of suite {self.suite.name!r}: {len(self.experiments)} experiments")
        if self.suite.note:
            print(f"# {self.suite.note}")
        current = None
        for row in rows:
            if row["experiment"] != current:
                current = row["experiment"]
                print(f"\n{current}  ({row['model']})")
            why = f" ({row['why']})" if row.get("why") else ""
            print(f"  {row['step']:<9} {row['kind']:<18} {row['key']}  {row['action']}{why}")
        distinct = {(r["kind"], r["key"]) for r in rows}
        to_run = {(r["kind"], r["key"]) for r in rows if r["action"] in ("train", "evaluate")}
        print(f"\n{len(rows)} steps in all, {len(distinct)} distinct, {len(to_run)} to run now")
        if missing:
            inputs = "input is" if len(missing) == 1 else "inputs are"
            print(f"\n{len(missing)} {inputs} missing; the keys that depend on them are "
                  "placeholders until they exist:")
            for line in missing:
                print(f"  - {line}")

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


def parse_shard(text: str) -> tuple[int, int]:
    """(I, N) of `--shard I/N`: this process runs the suite's experiments I, I+N, I+2N, ..."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise ValueError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. --shard 0/4 "
                         "... --shard 3/4 for a job array of four")
    return int(index), int(count)


def _preparing(folder: str):
    """A lock beside `folder` while it is generated, so processes started together take turns
    (the first writes it, the others find it up to date)."""
    path = Path(folder)
    return hold(path.parent / f".{path.name}.lock", poll_seconds=1.0, what=f"preparing {path}")
