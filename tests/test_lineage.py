"""A dry run says why a stage will train (issue 20, item 1): the files whose code changed
since the store completed the same stage, found by its lineage key."""

from continual.artifacts import PlanStep, artifact_key
from continual.lineage import lineage_keys, record, value_leaves, why_train


def chain(code: dict, lr: float = 0.1) -> list[PlanStep]:
    """init -> exp0 -> eval0, each keyed by its inputs and code, as a stream plan keys them."""
    steps, previous = [], None
    for name, kind in (("init", "stream_init"), ("exp0", "stream_experience"),
                       ("eval0", "stream_evaluation")):
        inputs = {"lr": lr, "previous": previous, "code": code[kind]}
        step = PlanStep(name, kind, artifact_key(kind, inputs), inputs)
        steps.append(step)
        previous = step.key
    return steps


def code(method_hash: str) -> dict:
    modules = {"continual/loop/experience.py": "aa", "continual/methods/er.py": method_hash}
    return {kind: {"lock": "11", "modules": dict(modules)}
            for kind in ("stream_init", "stream_experience", "stream_evaluation")}


def complete(tmp_path, steps):
    lineage = lineage_keys(steps)
    for step in steps:
        (tmp_path / step.kind / step.key).mkdir(parents=True)
        record(tmp_path, step, lineage[step.name])




def test_lineage_keys_ignore_code_and_follow_upstream_lineage(tmp_path):
    old, new = chain(code("b1")), chain(code("b2"))
    assert [s.key for s in old] != [s.key for s in new]
    assert lineage_keys(old) == lineage_keys(new)
    assert lineage_keys(chain(code("b1"), lr=0.2)) != lineage_keys(old)


def test_why_names_the_changed_file_then_new_or_partial(tmp_path):
    old, new = chain(code("b1")), chain(code("b2"))
    complete(tmp_path, old)
    lineage = lineage_keys(new)
    for step in new:
        assert why_train(tmp_path, step, lineage[step.name]) == \
            "code changed: continual/methods/er.py"
    other = chain(code("b1"), lr=0.3)
    assert why_train(tmp_path, other[0], lineage_keys(other)["init"]).startswith("new")
    (tmp_path / other[0].kind / other[0].key).mkdir(parents=True)  # a killed run's folder
    assert why_train(tmp_path, other[0], lineage_keys(other)["init"]) == "partial: resumes"


def bound_chain(epochs: int, seed: int = 1) -> list[PlanStep]:
    """init -> exp0 -> eval0 keyed by a gin section, as a stream plan's 'bindings' input."""
    steps, previous = [], None
    for name, kind in (("init", "stream_init"), ("exp0", "stream_experience"),
                       ("eval0", "stream_evaluation")):
        bindings = {"FineTuning": f"FineTuning.epochs = {epochs}\nFineTuning.lr = 0.1",
                    "Augment": "Augment.ops = [\n    'flip',\n    'crop']"}
        inputs = ({"model": previous} if kind == "stream_evaluation" else
                  {"bindings": bindings, "seed": seed, "previous": previous})
        step = PlanStep(name, kind, artifact_key(kind, inputs), inputs)
        steps.append(step)
        previous = step.key
    return steps


def test_why_names_the_binding_that_changed_since_the_experiments_last_run(tmp_path):
    old = bound_chain(epochs=2)
    lineage = lineage_keys(old)
    for step in old:
        (tmp_path / step.kind / step.key).mkdir(parents=True)
        record(tmp_path, step, lineage[step.name], "FINETUNE")
    new = bound_chain(epochs=1, seed=2)
    why = {s.name: why_train(tmp_path, s, lineage_keys(new)[s.name], "FINETUNE") for s in new}
    assert why == {"init": "values changed: FineTuning.epochs 2 -> 1; seed 1 -> 2",
                   "exp0": "values changed: FineTuning.epochs 2 -> 1; seed 1 -> 2",
                   "eval0": "values changed: an upstream stage"}
    # Another experiment name never ran these stages: they are new to it.
    assert why_train(tmp_path, new[0], lineage_keys(new)["init"], "ER").startswith("new")
    assert why_train(tmp_path, new[0], lineage_keys(new)["init"]).startswith("new")


def test_value_leaves_split_gin_sections_into_bindings():
    leaves = value_leaves({"bindings": {"A": "A.b = [\n    1,\n    2]\nA.c = 'x'"},
                           "scenario_params": {"num_tasks": 5}, "code": {"modules": {}}})
    assert leaves == {"A.b": "[ 1, 2]", "A.c": "'x'", "scenario_params.num_tasks": "5"}
