"""Kaizen (with CaSSLe and no-distillation as flag settings): method, losses, heads, views."""

from continual.methods.kaizen.method import Kaizen

__all__ = ["Kaizen"]
