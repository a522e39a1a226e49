"""Incremental splits: step classes per test type, image selection per setup, label maps."""

import numpy as np
import pytest

from continual.data.splits import (
    ORIGINAL_NAMES,
    TEST_TYPES,
    Step,
    helper_label_map,
    iterations,
    label_map,
    make_scenario,
    resolve_setup,
    resolve_test_type,
    step_images,
    val_images,
    val_label_map,
)

# Per-record classes of a hand-made training set (0 = background appears in most labels).
TRAIN = [
    (0, 1),            # 0: highest class 1
    (0, 3, 12),        # 1: 12
    (0, 15, 16),       # 2: 16, with 15 from an earlier step
    (0, 16),           # 3: 16
    (0, 5, 20),        # 4: 20, with 5
    (0, 17, 19),       # 5: 19, with 17
    (0, 18),           # 6: 18
    (0, 11),           # 7: 11
    (0, 2, 9),         # 8: 9
    (0,),              # 9: background only: in no split
    (14, 20),          # 10: 20 with 14, no background
    (0, 10, 13, 19),   # 11: 19 with 10 and 13
    (0, 7, 17),        # 12: 17 with 7
    (0, 19, 20),       # 13: 20 with 19
]
# Validation set; the highest class decides the val_i shard.
VAL = [
    (0, 1),            # 0: val_1
    (0, 5, 10),        # 1: val_10
    (0, 12),           # 2: val_12
    (0, 3, 15),        # 3: val_15
    (0, 16),           # 4: val_16
    (0, 2, 17, 20),    # 5: val_20
    (0,),              # 6: background only: in no val_i
    (0, 19),           # 7: val_19
    (0, 4, 18),        # 8: val_18
]


def _steps(test, first="sequential", incremental="sequential"):
    return make_scenario(test, first, incremental).steps


def _images(test, first, incremental):
    return [step_images(step, TRAIN) for step in _steps(test, first, incremental)]


def test_15_5_images_per_setup():
    # step 0 (1-15), sequential: a class of 1..15 and none of 16..20 -> 0, 1, 7, 8
    #   (2 has 16, 4 and 10 have 20, 11 has 19, 12 has 17)
    # step 0, overlapped: any class of 1..15 -> 0, 1, 2, 4, 7, 8, 10, 11, 12
    # step 1 (16-20): any of 16..20, nothing later exists -> 2, 3, 4, 5, 6, 10, 11, 12, 13
    step1 = [2, 3, 4, 5, 6, 10, 11, 12, 13]
    assert _images("15-5", "sequential", "disjoint") == [[0, 1, 7, 8], step1]
    assert _images("15-5", "overlapped", "overlapped") == [[0, 1, 2, 4, 7, 8, 10, 11, 12], step1]


def test_10_5_5_images_per_setup():
    # step 0 (1-10), sequential: no class >= 11 -> 0 (1), 8 (2, 9); overlapped adds 1, 4, 11, 12
    # step 1 (11-15), sequential: 11..15 and none of 16..20 -> 1 (12), 7 (11);
    #   overlapped adds 2 (15 + 16), 10 (14 + 20), 11 (13 + 19)
    # step 2 (16-20): same for every setup
    step2 = [2, 3, 4, 5, 6, 10, 11, 12, 13]
    assert _images("10-5-5", "sequential", "sequential") == [[0, 8], [1, 7], step2]
    assert _images("10-5-5", "disjoint", "disjoint") == [[0, 8], [1, 7], step2]
    assert _images("10-5-5", "overlapped", "overlapped") == [
        [0, 1, 4, 8, 11, 12], [1, 2, 7, 10, 11], step2]


def test_15_1x5_images_per_setup():
    # step 1 (16): 2, 3 (neither has 17..20)
    # step 2 (17): sequential 12 (5 also has 19); overlapped 5, 12
    # step 3 (18): 6
    # step 4 (19): sequential 5, 11 (13 also has 20); overlapped 5, 11, 13
    # step 5 (20): 4, 10, 13
    assert _images("15-1x5", "sequential", "disjoint") == [
        [0, 1, 7, 8], [2, 3], [12], [6], [5, 11], [4, 10, 13]]
    assert _images("15-1x5", "overlapped", "overlapped") == [
        [0, 1, 2, 4, 7, 8, 10, 11, 12], [2, 3], [5, 12], [6], [5, 11, 13], [4, 10, 13]]


@pytest.mark.parametrize("test", sorted(TEST_TYPES))
def test_sequential_steps_partition_the_images_with_objects(test):
    records = TRAIN + [(0, c) for c in range(1, 21)]  # one image per class: no step is empty
    owner = {}  # record -> the step that trains on it
    for step in _steps(test, "sequential", "disjoint"):
        for i in step_images(step, records):
            assert i not in owner, f"record {i} in steps {owner[i]} and {step.index}"
            owner[i] = step.index
    assert sorted(owner) == [i for i in range(len(records)) if i != 9]  # 9 has no object
    for i, step_index in owner.items():  # the step of the record's highest class
        assert max(records[i]) in _steps(test)[step_index].new_classes


def test_joint_is_one_sequential_step_on_every_image_with_objects():
    (step,) = make_scenario("JOINT", "overlapped", "overlapped").steps
    assert step.setup == "sequential" and step.new_classes == tuple(range(1, 21))
    assert step_images(step, TRAIN) == [i for i in range(len(TRAIN)) if i != 9]


def test_validation_images():
    # 15-5: b = 15 -> val_1, val_10, val_12, val_15 = 0..3; b = 20 -> all but 6 (no object)
    assert [val_images(s, VAL) for s in _steps("15-5")] == [[0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 7, 8]]
    # 10-5-5: b = 10 -> 0, 1; b = 15 -> 0..3
    assert [val_images(s, VAL) for s in _steps("10-5-5")][:2] == [[0, 1], [0, 1, 2, 3]]
    # 15-1x5: b = 16 -> 0..4; 17 -> same (5 has 20); 18 -> + 8; 19 -> + 7; 20 -> + 5
    assert [val_images(s, VAL) for s in _steps("15-1x5")][1:] == [
        [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 8], [0, 1, 2, 3, 4, 7, 8],
        [0, 1, 2, 3, 4, 5, 7, 8]]


def test_training_label_maps():
    seq, dis, ovl = (_steps("10-5-5", "sequential", s)[1]
                     for s in ("sequential", "disjoint", "overlapped"))
    for table in (label_map(seq), label_map(dis), label_map(ovl)):
        assert table.dtype == np.uint8 and table.shape == (256,)
        assert (table[0], table[12], table[15], table[255], table[21], table[100]) == (
            0, 12, 15, 255, 255, 255)
    assert (label_map(seq)[3], label_map(dis)[3], label_map(ovl)[3]) == (3, 0, 0)  # old class
    assert (label_map(seq)[17], label_map(dis)[17], label_map(ovl)[17]) == (255, 255, 0)  # future
    first_seq, first_ovl = _steps("10-5-5")[0], _steps("10-5-5", "overlapped")[0]
    assert (label_map(first_seq)[5], label_map(first_seq)[11]) == (5, 255)
    assert (label_map(first_ovl)[5], label_map(first_ovl)[11]) == (5, 0)


def test_validation_and_helper_label_maps():
    table = val_label_map(_steps("10-5-5", "overlapped", "overlapped")[1])
    assert [table[v] for v in (0, 3, 15, 16, 20, 30, 255)] == [0, 3, 15, 255, 255, 255, 255]
    table = helper_label_map((11, 12, 13, 14, 15))
    assert [table[v] for v in (11, 13, 15, 0, 10, 16, 255)] == [1, 3, 5, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="distinct VOC ids"):
        helper_label_map((16, 16))


# New classes of every step, as (first, last), from the original README's test list.
STRUCTURE = {
    "19-1": [(1, 19), (20, 20)],
    "15-5": [(1, 15), (16, 20)],
    "10-5-5": [(1, 10), (11, 15), (16, 20)],
    "15-1x5": [(1, 15)] + [(c, c) for c in range(16, 21)],
    "10-10": [(1, 10), (11, 20)],
    "10-2x5": [(1, 10), (11, 12), (13, 14), (15, 16), (17, 18), (19, 20)],
    "10-1x10": [(1, 10)] + [(c, c) for c in range(11, 21)],
    "joint": [(1, 20)],
}


@pytest.mark.parametrize("test", sorted(STRUCTURE))
def test_step_classes_follow_reference(test):
    scenario = make_scenario(test, "overlapped", "disjoint")
    assert [(s.new_classes[0], s.new_classes[-1]) for s in scenario.steps] == STRUCTURE[test]
    for step in scenario.steps:
        first, last = step.new_classes[0], step.last_class
        assert step.new_classes == tuple(range(first, last + 1))
        assert step.old_classes == tuple(range(1, first))
        assert scenario.replay_classes(step) == step.old_classes
        assert step.seen_classes == tuple(range(0, last + 1))
        assert step.future_classes == tuple(range(last + 1, 21))
    assert scenario.n0 == STRUCTURE[test][0][1]


def test_step_details_and_setups():
    steps = _steps("ADD_ONE_TEN_TIMES", "disjoint", "overlapped")
    assert len(steps) == 11
    assert steps[5].new_classes == (15,) and steps[5].old_classes == tuple(range(1, 15))
    assert [s.setup for s in steps[:2]] == ["sequential", "overlapped"]  # step-0 disjoint = seq
    assert steps[0].old_classes == () and steps[10].future_classes == ()
    assert iterations(steps[0], 1500) == 15000 and iterations(steps[3], 1000) == 1000
    assert iterations((11, 12), 1000) == 2000 and iterations(5, 1500) == 7500
    with pytest.raises(ValueError, match="at least one class"):
        iterations((), 1000)


HELPERS = {
    "19-1": (), "15-5": (), "10-10": (), "joint": (),
    "10-5-5": ((11, 12, 13, 14, 15),),
    "15-1x5": ((16,), (17,), (18,), (19,)),
    "10-2x5": ((11, 12), (13, 14), (15, 16), (17, 18)),
    "10-1x10": tuple((c,) for c in range(11, 20)),
}


@pytest.mark.parametrize("test", sorted(HELPERS))
def test_helper_groups_follow_reference(test):
    scenario = make_scenario(test, "sequential", "sequential")
    assert scenario.helper_groups() == HELPERS[test]
    assert scenario.helper_size == (len(HELPERS[test][0]) if HELPERS[test] else 0)


def test_helper_decoders_one_class_and_labellers():
    t2 = make_scenario("10-5-5", "sequential", "disjoint")
    assert (t2.labeller_of(5), t2.labeller_of(10), t2.labeller_of(13)) == (
        None, None, (11, 12, 13, 14, 15))
    t2_single = make_scenario("10-5-5", "sequential", "disjoint", helper_decoders_one_class=True)
    assert t2_single.helper_size == 1 and t2_single.labeller_of(13) == (13,)
    assert t2_single.helper_groups() == tuple((c,) for c in range(11, 16))
    assert make_scenario("10-2", "overlapped", "overlapped").labeller_of(14) == (13, 14)
    assert make_scenario("15-5", "sequential", "sequential", True).helper_size == 0
    assert make_scenario("joint", "sequential", "sequential").labeller_of(20) is None
    with pytest.raises(ValueError, match="class 20 is learned in the last step of test 10-1x10"):
        make_scenario("10-1", "sequential", "sequential").labeller_of(20)
    with pytest.raises(ValueError, match="class 16 is learned in the last step of test 15-5"):
        make_scenario("15-5", "sequential", "sequential").labeller_of(16)
    with pytest.raises(ValueError, match="not a VOC foreground id"):
        t2.labeller_of(21)


def test_unequal_incremental_steps_have_no_helper_size(monkeypatch):
    monkeypatch.setitem(TEST_TYPES, "10-6-4", (10, 6, 4))
    scenario = make_scenario("10-6-4", "sequential", "sequential")
    with pytest.raises(ValueError, match=r"different sizes \(6, 4\).*helper_decoders_one_class"):
        scenario.helper_groups()
    assert make_scenario("10-6-4", "sequential", "sequential", True).helper_groups() == tuple(
        (c,) for c in range(11, 17))


def test_name_resolution():
    for original, canonical in ORIGINAL_NAMES.items():
        assert resolve_test_type(original) == canonical
        assert resolve_test_type(original.lower()) == canonical
    for canonical in TEST_TYPES:
        assert resolve_test_type(canonical.upper()) == canonical
    aliases = {"15-1": "15-1x5", "10-2": "10-2x5", "10-1": "10-1x10", "15-1×5": "15-1x5",
               "10-2×5": "10-2x5", "10-1X10": "10-1x10", " Joint ": "joint", "20": "joint",
               "10-2-2-2-2-2": "10-2x5", "15-1-1-1-1-1": "15-1x5"}
    for alias, canonical in aliases.items():
        assert resolve_test_type(alias) == canonical
    assert [resolve_setup(s) for s in ("Sequential", "DISJOINT", " overlapped")] == [
        "sequential", "disjoint", "overlapped"]
    assert make_scenario("add_five_one_time", "Overlapped", "OVERLAPPED").test_type == "15-5"


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown test_type '15-2'") as err:
        resolve_test_type("15-2")
    for name in list(TEST_TYPES) + list(ORIGINAL_NAMES) + ["15-1", "10-2", "10-1"]:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="unknown data setup 'mixed'.*sequential, disjoint, "
                                         "overlapped"):
        make_scenario("15-5", "sequential", "mixed")
    with pytest.raises(ValueError, match="unknown test_type"):
        make_scenario(None, "sequential", "sequential")


def test_empty_splits_are_errors():
    step3 = _steps("15-1x5", "sequential", "disjoint")[3]
    with pytest.raises(ValueError, match=r"empty split: none of the 2 training records has a "
                                         r"pixel of classes 18 and none of the later classes "
                                         r"19-20 \(test 15-1x5, setup 'disjoint', step 3"):
        step_images(step3, [(0, 1), (0, 18, 19)])
    with pytest.raises(ValueError, match=r"validation records.*test 15-1x5, setup 'disjoint', "
                                         r"step 3"):
        val_images(step3, [(0,), (0, 19)])
    last = _steps("15-5", "overlapped", "sequential")[1]
    with pytest.raises(ValueError, match=r"none of the 1 training records has a pixel of classes "
                                         r"16-20 \(test 15-5, setup 'sequential', step 1"):
        step_images(last, [(0, 1, 2)])
    with pytest.raises(ValueError, match="must be distinct VOC ids"):
        Step(1, (), (1, 2), "sequential")
