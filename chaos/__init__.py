"""Chaos: a real multi-process cluster harness, fault injection and history checkers."""
