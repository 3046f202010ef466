"""Generated figures: every number in README.md and docs/ comes from committed data through one command.

A generated block in a Markdown file is delimited by two markers, each on a line of its own:

    <!-- generated:NAME -->
    ...written by the section builder registered as NAME; never edit by hand...
    <!-- /generated:NAME -->

`ddmd-bench report readme` rewrites the content of every block in README.md, CONTRIBUTING.md and docs/**/*.md from
the builders in `ddmd_bench.report.registry.SECTIONS`; `ddmd-bench report readme --check` writes nothing, prints a
unified diff and exits 1 when any file differs from what the data gives (tests/unit/test_readme_figures.py runs
it, so a figure that drifts from its data fails the suite). A block whose name has no builder, or a marker without
its partner, is an error that names the file and line.

Adding a section (for example a "performance" table from the benchmarks' summary JSON):

1. Write a builder in a module under `ddmd_bench/report/` (e.g. `performance.py`)::

       from ddmd_bench.report.registry import SECTIONS
       from ddmd_bench.report.sources import Sources

       @SECTIONS.register("performance")
       def performance(data: Sources) -> str:
           summary = data.json("benchmarks/summary.json")   # ReportError naming the file if it is missing
           return "| benchmark | median |\\n|---|---|\\n" + ...

   A builder reads committed files only, through `Sources` (`data.json(path)`, `data.leaderboard("toy")`,
   `data.manifest()`), is deterministic, and returns Markdown without the markers. Put numbers into prose
   through f-strings on computed values (`ddmd_bench/report/fmt.py` has the formatters), never as literals.
2. Add the module's name to `SECTION_MODULES` in `ddmd_bench/report/registry.py`.
3. Put the two markers where the section belongs, run `ddmd-bench report readme`, and commit the data file, the
   builder and the regenerated Markdown together.
"""
