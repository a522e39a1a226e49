"""Results reporting: metrics.jsonl I/O, summary tables and plots, TensorBoard scalars."""

from continual.reporting.jsonl import append_jsonl, read_jsonl
from continual.reporting.summary import write_summary
from continual.reporting.tables import SUMMARY_COLUMNS, summary_rows
from continual.reporting.tensorboard import TensorBoardLogger

__all__ = ["SUMMARY_COLUMNS", "TensorBoardLogger", "append_jsonl", "read_jsonl",
           "summary_rows", "write_summary"]
