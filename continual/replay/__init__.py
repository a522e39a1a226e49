"""Replay: sources (GAN, web, folders), labelling, mixing."""
