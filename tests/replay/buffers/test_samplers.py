"""Samplers: distinct occupied slots; class-balanced round-robin counts."""

import numpy as np
import pytest

from continual.replay.buffers.samplers import make_sampler
from continual.replay.buffers.storage import BufferStorage


def _storage(labels, capacity=12):
    storage = BufferStorage(capacity, num_classes=4)
    storage.write(np.arange(len(labels)), np.arange(100, 100 + len(labels)), labels, step=0)
    return storage


@pytest.mark.parametrize("name", ["uniform", "class_balanced"])
def test_samples_are_distinct_occupied_slots_and_all_of_a_small_memory(name):
    storage = _storage([0, 1, 1, 2, 2, 2, 0])
    sampler = make_sampler(name)
    for step in range(5):
        slots = sampler.sample(storage, 4, seed=[1, step]).numpy()
        assert len(set(slots)) == 4 and slots.min() >= 0 and slots.max() < 7
    everything = sampler.sample(storage, 10, seed=[1, 0]).numpy()
    assert sorted(everything.tolist()) == list(range(7))
    assert sampler.sample(storage, 4, seed=[2, 9]).numpy().tolist() == \
        sampler.sample(storage, 4, seed=[2, 9]).numpy().tolist()


def test_uniform_sampler_covers_the_memory_evenly():
    storage = _storage([0] * 6)
    counts = np.zeros(6)
    for step in range(300):
        counts[make_sampler("uniform").sample(storage, 2, seed=[0, step]).numpy()] += 1
    assert counts.min() > 70 and counts.max() < 130     # 100 expected each


def test_class_balanced_sampler_draws_classes_round_robin():
    storage = _storage([0, 0, 0, 0, 0, 0, 1, 1, 3])            # 6, 2, 0, 1 items
    sampler = make_sampler("class_balanced")
    for step in range(4):
        slots = sampler.sample(storage, 6, seed=[3, step])
        labels = storage.gather(slots)["labels"].numpy()
        # turn 0: 0, 1, 3; turn 1: 0, 1; turn 2: 0
        assert np.bincount(labels, minlength=4).tolist() == [3, 2, 0, 1]
        assert set(labels[:3]) == {0, 1, 3}


def test_unknown_sampler_names_the_binding_and_the_choices():
    with pytest.raises(ValueError, match="EpisodicBuffer.sampler 'balanced'.*'class_balanced'"):
        make_sampler("balanced")
