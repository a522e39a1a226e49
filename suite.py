"""A suite: the experiments that config/ defines, run one after another with shared artefacts.

`Suite` (gin) lists joint, then every config x test x replay source. `SuiteRunner` parses
each experiment's gin files afresh, builds its `TrainManager`, prints the plan (`--dry_run`)
or runs it with `Training`, and finally writes the summary table and plots.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import logging
from pathlib import Path

import gin
import keras

from continual.data.synthetic import generate_synthetic
from continual.replay.standins import build_standins
from continual.replay.web_standin import write_web_standin
from continual.reporting import write_summary
from train_manager import TrainManager
from training import Training

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent

# The embedded default's data, sized by `generate_synthetic.*` bindings in gin.
generate_synthetic = gin.external_configurable(generate_synthetic,
                                               module="continual.data.synthetic")


@gin.configurable
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
    test_type: str
    replay_source: str | None


@gin.configurable
class Suite:
    """The experiments of a suite: joint, the baselines (configs run without replay) on every
    test, then every replay config x test x replay source.

    `synthetic_data_dir`, when set, is filled with the synthetic dataset if it is missing
    (the embedded default); `generate_synthetic.*` bindings choose its size.
    `replay_standins_dir`, when set, gets the offline replay stand-ins if they are missing.
    """

    def __init__(self, name: str = "recall", joint_config: str | None = "config/JOINT.gin",
                 configs=(), tests=(), sources=(None,), baselines=(),
                 synthetic_data_dir: str | None = None,
                 replay_standins_dir: str | None = None, note: str = ""):
        self.name, self.joint_config, self.note = name, joint_config, note
        self.configs, self.tests, self.sources = list(configs), list(tests), list(sources)
        self.baselines = list(baselines)
        self.synthetic_data_dir = synthetic_data_dir
        self.replay_standins_dir = replay_standins_dir

    def experiments(self) -> list[Experiment]:
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
    gin.parse_config_files_and_bindings([resolve_gin_file(f) for f in files], params)


class SuiteRunner:
    """Runs (or plans) the selected experiments of a suite and writes its summary."""

    def __init__(self, suite: Suite, experiments: list[Experiment], gin_files: list[str],
                 gin_params: list[str], workdir: Path):
        self.suite, self.experiments = suite, experiments
        self.gin_files, self.gin_params = gin_files, gin_params
        self.workdir = Path(workdir)

    @classmethod
    def from_args(cls, gin_files, gin_params, workdir, only=()) -> SuiteRunner:
        parse_gin(gin_files, gin_params)
        suite = Suite()
        experiments = suite.experiments()
        if only:
            experiments = [e for e in experiments if any(fnmatch.fnmatch(e.name, p) for p in only)]
            if not experiments:
                raise ValueError(f"--only {list(only)} matches no experiment of suite "
                                 f"{suite.name!r}; names: {[e.name for e in suite.experiments()]}")
        if suite.synthetic_data_dir:
            generate_synthetic(out_dir=suite.synthetic_data_dir)
        if suite.replay_standins_dir:
            prepare_replay_standins(suite.replay_standins_dir)
        return cls(suite, experiments, gin_files, gin_params, workdir)

    def manager(self, experiment: Experiment) -> TrainManager:
        parse_gin([experiment.config, *self.gin_files], self.gin_params)
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
                    action = "train" if step.kind != "evaluation" else "evaluate"
                rows.append({"experiment": experiment.name, "step": step.name,
                             "kind": step.kind, "key": step.key, "action": action})
        return rows

    def print_plan(self, rows: list[dict] | None = None) -> None:
        rows = self.plan_rows() if rows is None else rows
        print(f"# Plan of suite {self.suite.name!r}: {len(self.experiments)} experiments")
        if self.suite.note:
            print(f"# {self.suite.note}")
        current = None
        for row in rows:
            if row["experiment"] != current:
                current = row["experiment"]
                print(f"\n{current}")
            print(f"  {row['step']:<8} {row['kind']:<18} {row['key']}  {row['action']}")
        distinct = {(r["kind"], r["key"]) for r in rows}
        to_run = {(r["kind"], r["key"]) for r in rows if r["action"] in ("train", "evaluate")}
        print(f"\n{len(rows)} steps in all, {len(distinct)} distinct, {len(to_run)} to run now")

    def run(self) -> dict[str, list[dict]]:
        if self.suite.note:
            log.info("suite %s: %s", self.suite.name, self.suite.note)
        results = {}
        for index, experiment in enumerate(self.experiments, 1):
            log.info("experiment %d/%d: %s", index, len(self.experiments), experiment.name)
            keras.backend.clear_session()
            folder = self.experiment_dir(experiment)
            training = Training(self.manager(experiment), folder, experiment.name)
            results[experiment.name] = training.train()
        paths = write_summary(self.workdir, results)
        print((self.workdir / "summary.md").read_text())
        log.info("summary written: %s", ", ".join(str(p) for p in paths.values()))
        return results
