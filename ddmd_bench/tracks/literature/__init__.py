"""Protocols from the literature (GigaGAN/DMD2 COCO-30k, DMD2 SDXL coco10k with patch FID, Decoupled DMD's SDXL table,
SenseFlow's COCO-5K FID-T against a teacher's images, MLPerf SDXL, public prompt sets).

Modules, one job each:
  specs       the protocols as frozen data (prompt sources, resolutions, metric definitions, data files, gates)
  datafiles   data-file specs and their checks (missing, unknown key, wrong sha256)
  reference_stats  reference-statistics identity: made for a protocol (and, for FID-T, a teacher's images of its
              prompts and seeds), refused when made for another
  build       spec + the user's files -> (Protocol, LiteratureContext), without loading any model
  context     the run-time context: prompts, verified files, `build_metrics` (real weights via the resolver)
  gates       the MLPerf SDXL accuracy gate (the gate machinery is `ddmd_bench.gates`)
  plugins     the entries `ddmd_bench.protocols.PROTOCOLS` names: `get_protocol(name, limit, data={key: path})`
  reported    published numbers as `reported` leaderboard entries, each under its paper's own protocol
  prompt_sets reference-free protocols on prompt sets: any prompt file (named by its sha256), PartiPrompts,
              DrawBench, the HPSv2 benchmark prompts, GenEval
  geneval     GenEval's output folder layout, for GenEval's own scorer

Listing and describing these protocols imports no torch, and building one loads no model, so a wrong data file fails
in seconds.
"""
