"""Behavioural tests written to kill surviving mutants of the mutation-tested modules (see docs/mutation.md)."""
