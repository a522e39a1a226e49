"""An archive in the original RECALL layout converts and trains (issue 12, item 11)."""

import json

import main
from continual.data.recall_original import convert_original
from continual.data.shards import iterate_records, open_record_set
from continual.data.synthetic import generate_synthetic
from tests.core.test_suite_run import EXPERIMENT, suite_args
from tests.data.test_recall_original import write_file


def test_an_original_layout_archive_converts_and_trains(tmp_path):
    generate_synthetic(tmp_path / "synthetic", size=32, num_train=90, num_val=30, seed=0)
    data = tmp_path / "archive" / "data"
    samples = {name: [(r.image, r.label) for r in
                      iterate_records(open_record_set(tmp_path / "synthetic", name))]
               for name in ("train", "val")}
    write_file(data / "training_first_step" / "train_sequential_1-20.tfrecord", samples["train"])
    write_file(data / "validation" / "val_20.tfrecord", samples["val"])
    convert_original(data, tmp_path / "converted")
    assert main.main(suite_args(tmp_path, 2,
                                f"TrainManager.data_dir = '{tmp_path / 'converted'}'")) == 0
    path = tmp_path / "runs" / "experiments" / EXPERIMENT / "metrics.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1]
