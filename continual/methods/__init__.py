"""Methods: how a step trains (losses, train step)."""
