"""The best-epoch accuracy rule (`StreamPlan.accuracy_rule = 'best_epoch'`), opt-in.

Rainbow Memory's code reports, per task, the best overall test accuracy over the epochs of the
task's last training call (`best_acc = max(best_acc, eval_dict["avg_acc"])` after every epoch of its
memory-only epochs online, of its epochs offline; its `main.py` keeps the max as `task_acc`). That
is model selection on the test set: an optimistic number, kept apart from the primary last-epoch
accuracy and reported only for parity with the paper's tables.

Under the rule, the experience stage evaluates the test rows of the evaluation after it at the
end of every epoch of the experience's last phase and stores those accuracies in its info;
each evaluation record then carries `accuracy_best_epoch_test` = the maximum of them and of
the evaluation's own (final) accuracy. A method whose reported accuracy is only the one after its
end-of-experience hooks (class attribute `reports_final_evaluation`, RM's iCaRL and BiC, whose
`best_acc` is set once after their last step) is not evaluated per epoch; its value is its final
accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

from continual import planning
from continual.data.atomic import write_json_atomic
from continual.loop.evaluation import evaluate_experience

RULES = ("last_epoch", "best_epoch")
BEST_EPOCH_LABEL = "best epoch, selected on the test set"
FINAL_LABEL = "final evaluation (the method's own rule: RM reports it)"
FILE = "epoch_accuracies.json"


def check_rule(value: str) -> str:
    """The rule, or a ValueError naming `StreamPlan.accuracy_rule`."""
    return planning.check_choice("StreamPlan.accuracy_rule", value, RULES)


def selects_best_epoch(method_cls) -> bool:
    return not getattr(method_cls, "reports_final_evaluation", False)


def rule_label(rule: str, method_cls) -> dict:
    """{'accuracy_rule': label} for a best-epoch plan (records and summary); {} otherwise."""
    if rule != "best_epoch":
        return {}
    return {"accuracy_rule": BEST_EPOCH_LABEL if selects_best_epoch(method_cls) else FINAL_LABEL}


class EpochAccuracies:
    """Test accuracy at the end of each epoch of one phase, kept in `folder/FILE` (rewritten
    atomically per epoch, so a resumed stage keeps the epochs it evaluated before the kill)."""

    def __init__(self, evaluate, folder: Path, phase_index: int):
        self.evaluate, self.path, self.phase_index = evaluate, Path(folder) / FILE, phase_index
        self.by_epoch: dict[str, dict] = {}
        if self.path.exists():
            self.by_epoch = json.loads(self.path.read_text())

    def __call__(self, phase_index: int, phase, epoch: int) -> None:
        if phase_index != self.phase_index:
            return
        metrics = self.evaluate()
        self.by_epoch[str(epoch)] = {key: metrics.get(key)
                                     for key in ("accuracy", "top_k_accuracy")
                                     if metrics.get(key) is not None}
        write_json_atomic(self.path, self.by_epoch)

    def info(self) -> dict:
        """{'epoch_accuracies': [accuracy of epoch 0, 1, ...]} (and the top-k ones)."""
        epochs = sorted(self.by_epoch, key=int)
        found = {"epoch_accuracies": [self.by_epoch[e].get("accuracy") for e in epochs]}
        if any("top_k_accuracy" in self.by_epoch[e] for e in epochs):
            found["epoch_top_k_accuracies"] = [self.by_epoch[e].get("top_k_accuracy")
                                               for e in epochs]
        return found


def epoch_evaluation(plan, method, experience, test_table, folder: Path):
    """The `after_epoch` callback of an experience stage under the best-epoch rule, or None."""
    if getattr(plan, "accuracy_rule", "last_epoch") != "best_epoch" \
            or not selects_best_epoch(type(method)):
        return None
    last_phase = len(method.phases(experience)) - 1
    return EpochAccuracies(
        lambda: evaluate_experience(method.predict, test_table, plan.scenario, experience,
                                    plan.eval_batch_size, getattr(plan, "top_k", None)),
        folder, last_phase)


def best_epoch_values(train_info: dict, metrics: dict) -> dict:
    """`accuracy_best_epoch_test` (and `top_k_accuracy_best_epoch_test`) of one evaluation:
    the maximum over the stage's per-epoch accuracies and the evaluation's final one."""
    found = {}
    for source, final, name in (("epoch_accuracies", "accuracy", "accuracy_best_epoch_test"),
                                ("epoch_top_k_accuracies", "top_k_accuracy",
                                 "top_k_accuracy_best_epoch_test")):
        values = [v for v in [*train_info.get(source, []), metrics.get(final)] if v is not None]
        if values:
            found[name] = max(values)
    return found
