"""Results reporting: metrics.jsonl I/O, summary tables and plots, TensorBoard scalars."""

from continual.reporting.jsonl import append_jsonl, read_jsonl
from continual.reporting.stream_tables import (
    STREAM_COLUMNS,
    experience_rows,
    stream_columns,
    stream_rows,
)
from continual.reporting.summary import split_by_plan_kind, write_summary
from continual.reporting.tables import SUMMARY_COLUMNS, summary_rows
from continual.reporting.tensorboard import TensorBoardLogger

__all__ = ["STREAM_COLUMNS", "SUMMARY_COLUMNS", "TensorBoardLogger", "append_jsonl",
           "experience_rows", "read_jsonl", "split_by_plan_kind", "stream_columns",
           "stream_rows", "summary_rows", "write_summary"]
