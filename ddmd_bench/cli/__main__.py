"""`python -m ddmd_bench.cli`."""

from ddmd_bench.cli import main

main()
