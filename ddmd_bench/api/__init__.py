"""The Python API: evaluate a model from a notebook, a script or a training loop, and read leaderboards.

`ddmd_bench.evaluate` runs what `ddmd-bench evaluate` runs (`ddmd_bench.evaluation.suite`), so the same model under
the same protocol gives the same numbers from Python and from the command line; `ddmd_bench.Leaderboard` opens,
filters, compares and renders a leaderboard file. docs/api.md has examples (a test runs every one of them).
"""
