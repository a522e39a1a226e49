"""A dry run says why a stage will train (issue 20, item 1): the files whose code changed
since the store completed the same stage, found by its lineage key."""

from continual.artifacts import PlanStep, artifact_key
from continual.lineage import lineage_keys, record, why_train


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
