"""Continual-learning metrics from an accuracy matrix R, and R from a stream's metrics records.

R[i, j] is the accuracy on experience j's test data after training experience i (0-based), a
float array [n_evaluations, T]. Row i is the `accuracy_row` of the evaluation after experience
i, stored whole (j > i included), so FWT can read the entries above the diagonal. Formulas from
the papers: forgetting and intransigence (Chaudhry et al., ECCV 2018), BWT and FWT (Lopez-Paz
& Ranzato, NeurIPS 2017), AMCA (the SSLAD / CLAD-C benchmark, Verwimp et al.) and Rainbow
Memory's I_last and forgetting (`forgetting_rm`: the max over every earlier evaluation, not
only those from task j on; Bang et al., CVPR 2021, its main.py). A metric that is undefined (one
evaluation for forgetting / BWT / FWT, no random-init row, no linked joint run, a missing
entry) is None: never a number computed against 0 (RM's joint_acc defaults to 0.0).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from continual.metrics.transfer import fwt_omission

log = logging.getLogger(__name__)

PerClass = Mapping[str, float | None] | Sequence[float | None] | None


def _as_matrix(R) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.ndim != 2:
        raise ValueError(f"accuracy matrix R must be 2-D [n_evaluations, T], got shape {R.shape}")
    if R.shape[0] > R.shape[1]:
        raise ValueError(f"accuracy matrix R has {R.shape[0]} evaluations for {R.shape[1]} "
                         f"tasks; it takes one row per experience and one column per task")
    return R


def _as_row(values, num_tasks: int, name: str) -> np.ndarray | None:
    """A per-task row as floats (None entries become NaN); None stays None."""
    if values is None:
        return None
    row = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    if row.shape != (num_tasks,):
        raise ValueError(f"{name} must have {num_tasks} entries (one per task), got "
                         f"shape {row.shape}")
    return row


def _mean_or_none(values) -> float | None:
    """Mean of `values`; None when there are none or one is missing (NaN): undefined, not 0."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.isnan(values).any():
        return None
    return float(values.mean())


def final_accuracy(R) -> float | None:
    """A_T = (1/T) sum_j R[T-1, j]: the last row's mean over every task."""
    R = _as_matrix(R)
    return _mean_or_none(R[-1]) if len(R) else None


def average_incremental_accuracy(R) -> float | None:
    """(1/T) sum_i (1/(i+1)) sum_{j<=i} R[i, j]: mean over evaluations of the seen-task mean
    ("continual accuracy"; Kaizen's "Average Continual Performance")."""
    R = _as_matrix(R)
    per_step = [_mean_or_none(R[i, : i + 1]) for i in range(len(R))]
    return None if None in per_step else _mean_or_none(per_step)


def task_forgetting(R) -> list[float]:
    """f_j = max_{l in [j, T-2]} R[l, j] - R[T-1, j] for each j < T-1 (Chaudhry et al.)."""
    R = _as_matrix(R)
    last = len(R) - 1
    return [float(np.max(R[j:last, j]) - R[last, j]) for j in range(last)]


def forgetting_over_time(R) -> list[list[float]]:
    """For each j < T-1, [R[j, j] - R[t, j] for t = j+1 .. T-1]: what was learnt on task j and
    lost after each later task (continuous SSL's forgetting on split D_j over the stream,
    F_j(t) = Acc_j(end of D_j) - Acc_j(t); the original computes it offline and its code has
    no formula, so this is the port's definition)."""
    R = _as_matrix(R)
    return [[float(R[j, j] - R[t, j]) for t in range(j + 1, len(R))] for j in range(len(R) - 1)]


def forgetting(R) -> float | None:
    """F = (1/(T-1)) sum_{j<T-1} f_j (Chaudhry et al., ECCV 2018); None when T = 1."""
    return _mean_or_none(task_forgetting(R))


def rm_task_forgetting(R) -> list[float]:
    """Rainbow Memory's f_j (its main.py, `forget_k`): max_{t < T-1} R[t, j] - R[T-1, j] for
    each j < T-1: the max over every earlier evaluation, those before task j included (a
    blurry stream tests every class from task 0; on a disjoint one a block not yet seen scores
    0 here, its classes masked, as RM's untested classes do). RM's columns are blocks of
    `n_cls_a_task` labels, each task's major / new classes: R's task columns here (per test
    row, not the block's per-class mean: equal when its classes have equal test counts)."""
    R = _as_matrix(R)
    last = len(R) - 1
    return [float(np.max(R[:last, j]) - R[last, j]) for j in range(last)]


def rm_forgetting(R) -> float | None:
    """RM's F_last = (1/(T-1)) sum_{j<T-1} of `rm_task_forgetting`; None when T = 1."""
    return _mean_or_none(rm_task_forgetting(R))


def backward_transfer(R) -> float | None:
    """BWT = (1/(T-1)) sum_{j<T-1} (R[T-1, j] - R[j, j]) (Lopez-Paz & Ranzato 2017, GEM)."""
    R = _as_matrix(R)
    last = len(R) - 1
    return _mean_or_none([R[last, j] - R[j, j] for j in range(last)])


def forward_transfer(R, random_init_row) -> float | None:
    """FWT = (1/(T-1)) sum_{j>=1} (R[j-1, j] - b_j), b_j = accuracy on task j of the randomly
    initialised network (GEM); None without that row or when T = 1. `stream_metrics` reports it
    only when R and b come from the same evaluator (classifier or linear probe, `transfer.py`)."""
    R = _as_matrix(R)
    b = _as_row(random_init_row, R.shape[1], "random_init_row")
    if b is None:
        return None
    return _mean_or_none([R[j - 1, j] - b[j] for j in range(1, len(R))])


def intransigence(R, joint_row) -> float | None:
    """I = (1/T) sum_k (a*_k - R[k, k]), a*_k = the linked joint reference's accuracy on task k.

    Chaudhry et al. train one joint model per k on tasks 0..k: a*_k is then R_joint[k, k] of a
    `cumulative_joint` run (`stream_metrics` passes its diagonal); with one joint run on all
    tasks, a*_k is its accuracy on task k. None without a joint run (never against RM's
    default joint_acc of 0).
    """
    R = _as_matrix(R)
    a_star = _as_row(joint_row, R.shape[1], "joint_row")
    if a_star is None:
        return None
    return _mean_or_none([a_star[k] - R[k, k] for k in range(len(R))])


def intransigence_last(final_acc: float | None, joint_final_acc: float | None) -> float | None:
    """Rainbow Memory's I_last = joint_acc - A_last (its `main.py`), overall accuracies; None
    when either is missing (RM's default joint_acc = 0 is not reproduced)."""
    if final_acc is None or joint_final_acc is None:
        return None
    return _mean_or_none([joint_final_acc - final_acc])


def class_mean(per_class: PerClass) -> float | None:
    """Mean accuracy over the classes present (entries that are not None / NaN)."""
    if per_class is None:
        return None
    values = per_class.values() if isinstance(per_class, Mapping) else per_class
    present = [float(v) for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(present)) if present else None


def amca(per_class_rows: Sequence[PerClass]) -> float | None:
    """AMCA = (1/T) sum_t (1/C) sum_c a[c, t] (SSLAD; `VerwimpEli/CLAD` README): the mean
    over evaluation points of the class-mean accuracy, over the C classes present in the
    evaluation set (an absent class is None or NaN in its row). None if a point has no
    per-class accuracy."""
    means = [class_mean(row) for row in per_class_rows]
    return None if None in means else _mean_or_none(means)


def accuracy_matrix_metrics(R: np.ndarray, baseline: Sequence[float] | None = None) -> dict:
    """Every R metric of a square T x T matrix, in one dict (Avalanche style).

    Keys: `average` (final accuracy), `average_per_step[i]` = mean of R[i, :i+1],
    `forgetting` (f_j per task j < T-1) and `mean_forgetting`, `bwt`, and `fwt` against
    `baseline` (the random-init row b). Entries above the diagonal are read only by FWT.
    """
    R = _as_matrix(R)
    if R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"accuracy matrix must be square and non-empty, got shape {R.shape}")
    _as_row(baseline, R.shape[1], "baseline")
    return {
        "average": final_accuracy(R),
        "average_per_step": [float(np.mean(R[i, : i + 1])) for i in range(len(R))],
        "forgetting": task_forgetting(R),
        "mean_forgetting": forgetting(R),
        "bwt": backward_transfer(R),
        "fwt": forward_transfer(R, baseline),
    }


def _experiment(records: Sequence[dict]) -> str:
    return str(records[0].get("experiment", "?")) if records else "?"


def last_record_per_experience(records: Sequence[dict]) -> list[dict]:
    """The last record of each experience (a resumed run evaluates again), by experience;
    experience -1, the random-initialisation evaluation, comes first."""
    by_experience: dict[int, dict] = {}
    for index, record in enumerate(records):
        experience = record.get("experience")
        if not isinstance(experience, int) or experience < -1:
            raise ValueError(f"experiment {_experiment(records)!r}: metrics record {index} has "
                             f"experience {experience!r}; expected an int >= -1 (-1 = the "
                             f"random-initialisation evaluation)")
        by_experience[experience] = record
    return [by_experience[e] for e in sorted(by_experience)]


def _num_experiences(latest: Sequence[dict], name: str) -> int:
    counts = sorted({repr(record.get("num_experiences")) for record in latest})
    value = latest[0].get("num_experiences")
    if len(counts) != 1 or not isinstance(value, int) or value < 1:
        raise ValueError(f"experiment {name!r}: records give num_experiences {', '.join(counts)}; "
                         f"every record needs the same int >= 1")
    return value


def _accuracy_row(record: dict, num_tasks: int | None, name: str) -> np.ndarray:
    where = f"experiment {name!r}, experience {record['experience']}: accuracy_row"
    if record.get("accuracy_row") is None:
        raise ValueError(f"{where} is missing; every stream evaluation record stores its R row")
    num_tasks = len(record["accuracy_row"]) if num_tasks is None else num_tasks
    return _as_row(record["accuracy_row"], num_tasks, where)


def accuracy_matrix(records: Sequence[dict]) -> tuple[np.ndarray, np.ndarray | None]:
    """R [n_evaluations, T] from one experiment's stream records, and b (the random-init row,
    experience -1) or None. Missing entries (null) become NaN; a gap in the experiences is an
    error, since every metric would silently shift.

    T is the length of accuracy_row, the same in every record. It equals num_experiences,
    except for a joint run: one experience, evaluated on each of the T tasks of its stream.
    """
    if not records:
        raise ValueError("accuracy_matrix: no metrics records; pass one experiment's records")
    name = _experiment(records)
    latest = last_record_per_experience(records)
    num_experiences = _num_experiences(latest, name)
    num_tasks = len(_accuracy_row(latest[0], None, name))
    rows = {r["experience"]: _accuracy_row(r, num_tasks, name) for r in latest}
    evaluated = [e for e in rows if e >= 0]
    if evaluated != list(range(len(evaluated))) or len(evaluated) > num_experiences:
        raise ValueError(f"experiment {name!r}: evaluations after experiences {evaluated} for "
                         f"num_experiences {num_experiences}; R needs one after each of 0, 1, "
                         f"..., so rerun the experiment to fill the missing ones")
    R = np.array([rows[e] for e in evaluated], dtype=np.float64).reshape(-1, num_tasks)
    return R, rows.get(-1)


def a_avg(evaluations: Sequence[dict]) -> float | None:
    """Rainbow Memory's A_avg (its `main.py`): the mean over experiences of the overall test
    `accuracy` of the evaluation after each (its last epoch: RM took the best epoch on the test
    set). None without evaluations or when one lacks the accuracy."""
    return _mean_or_none([np.nan if r.get("accuracy") is None else r["accuracy"]
                          for r in evaluations])


def _mean_defined(values: Sequence[float | None]) -> float | None:
    defined = [float(v) for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def stream_metrics(records: Sequence[dict], joint_records: Sequence[dict] | None = None) -> dict:
    """Every summary metric of one stream experiment, from its metrics.jsonl records.

    `joint_records` are the linked joint run's (one evaluation with a full accuracy_row);
    without them both intransigence values are None and a log line says so. `images_per_sec`
    is the mean over experiences that logged it; intransigence_last compares the overall
    `accuracy` of the last evaluation with the joint run's.
    """
    R, random_init_row = accuracy_matrix(records)
    # FWT only from R and b scored alike (continual.metrics.transfer)
    fwt_note = fwt_omission(*_random_init_and_evaluations(records))
    name = _experiment(records)
    evaluations = [r for r in last_record_per_experience(records) if r["experience"] >= 0]
    last = evaluations[-1] if evaluations else {}
    joint_row, joint_acc, reference = _joint_reference(name, joint_records, R.shape[1])
    mean_class_final = last.get("mean_class_accuracy")
    return {
        "final_accuracy": final_accuracy(R),
        "a_avg": a_avg(evaluations),
        "average_incremental_accuracy": average_incremental_accuracy(R),
        "forgetting": forgetting(R),
        "forgetting_rm": rm_forgetting(R),
        "bwt": backward_transfer(R),
        "fwt": None if fwt_note else forward_transfer(R, random_init_row),
        **({"fwt_note": fwt_note} if fwt_note else {}),
        "intransigence": intransigence(R, joint_row),
        "intransigence_last": intransigence_last(last.get("accuracy"), joint_acc),
        "amca": amca([r.get("per_class_accuracy") for r in evaluations]),
        "mean_class_accuracy_final": (mean_class_final if mean_class_final is not None
                                      else class_mean(last.get("per_class_accuracy"))),
        "images_per_sec": _mean_defined([r.get("images_per_sec") for r in evaluations]),
        **top_k_summary(evaluations),
        **best_epoch_summary(evaluations),
        **({"intransigence_reference": reference} if reference else {}),
    }


def best_epoch_summary(evaluations: Sequence[dict]) -> dict:
    """A_last / A_avg by RM's best-epoch rule (`StreamPlan.accuracy_rule = 'best_epoch'`:
    selected on the test set, optimistic) as `a_last_best_epoch_test` /
    `a_avg_best_epoch_test`, and over the top-k accuracy (`StreamPlan.top_k` set) as
    `a_last_top_k_best_epoch_test` / `a_avg_top_k_best_epoch_test`; each pair absent when the
    last evaluation carries no `accuracy_best_epoch_test` / `top_k_accuracy_best_epoch_test`."""
    found = {}
    for source, a_last, a_avg_name in (
            ("accuracy_best_epoch_test", "a_last_best_epoch_test", "a_avg_best_epoch_test"),
            ("top_k_accuracy_best_epoch_test", "a_last_top_k_best_epoch_test",
             "a_avg_top_k_best_epoch_test")):
        if not evaluations or evaluations[-1].get(source) is None:
            continue
        values = [r.get(source) for r in evaluations]
        found[a_last] = values[-1]
        found[a_avg_name] = _mean_or_none([np.nan if v is None else v for v in values])
    return found


def _random_init_and_evaluations(records: Sequence[dict]) -> tuple[dict | None, list[dict]]:
    """The random-initialisation record (experience -1) or None, and the later evaluations."""
    latest = last_record_per_experience(records)
    init = latest[0] if latest and latest[0]["experience"] == -1 else None
    return init, [r for r in latest if r["experience"] >= 0]


def top_k_summary(evaluations: Sequence[dict]) -> dict:
    """RM's A_last / A_avg over the top-k accuracy (`StreamPlan.top_k`, e.g. top-5 on
    ImageNet, RM's `--topk 5`) as `final_top_k_accuracy` / `a_avg_top_k` with `top_k`; {} when the
    evaluations carry no top-k (forgetting stays on the argmax accuracy either way)."""
    if not evaluations or evaluations[-1].get("top_k") is None:
        return {}
    values = [r.get("top_k_accuracy") for r in evaluations]
    return {"top_k": evaluations[-1]["top_k"], "final_top_k_accuracy": values[-1],
            "a_avg_top_k": _mean_or_none([np.nan if v is None else v for v in values])}


JOINT_ALL_TASKS = "joint on all tasks"
JOINT_PER_TASK_COUNT = "joint on tasks 0..k"


def _joint_reference(name: str, joint_records: Sequence[dict] | None,
                     num_tasks: int) -> tuple[np.ndarray | None, float | None, str | None]:
    """The joint reference's per-task row a*, its overall accuracy (after its last
    experience) and which reference it is; (None, None, None) with a log when there is none.

    A joint run of one experience gives a*_k = its accuracy on task k (JOINT_ALL_TASKS); a
    `cumulative_joint` run of T experiences (experience k trained from scratch on tasks
    0..k) gives a*_k = R_joint[k, k] (JOINT_PER_TASK_COUNT, Chaudhry et al.'s definition).
    """
    if joint_records is None:
        log.info("experiment %r: intransigence omitted: no joint run is linked (it is never "
                 "computed against 0)", name)
        return None, None, None
    joint_R, _ = accuracy_matrix(joint_records)
    joint_name = _experiment(joint_records)
    if joint_R.shape[1] != num_tasks:
        raise ValueError(f"experiment {name!r} has {num_tasks} tasks but its joint run "
                         f"{joint_name!r} evaluates {joint_R.shape[1]}; link a joint run of "
                         f"the same scenario (joint_experiment)")
    latest = last_record_per_experience(joint_records)
    count = _num_experiences(latest, joint_name)
    if count not in (1, num_tasks):
        raise ValueError(f"experiment {name!r} has {num_tasks} tasks but its joint run "
                         f"{joint_name!r} has {count} experiences; link a joint run of one "
                         f"experience or a cumulative_joint run of {num_tasks}")
    if len(joint_R) < count:
        log.info("experiment %r: intransigence omitted: the linked joint run %r has %d of "
                 "its %d evaluations", name, joint_name, len(joint_R), count)
        return None, None, None
    if count == 1:
        return joint_R[-1], latest[-1].get("accuracy"), JOINT_ALL_TASKS
    return np.diag(joint_R).copy(), latest[-1].get("accuracy"), JOINT_PER_TASK_COUNT
