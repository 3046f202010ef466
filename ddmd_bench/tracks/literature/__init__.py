"""Protocols from the literature (GigaGAN/DMD2 COCO-30k, DMD2 SDXL coco10k with patch FID, MLPerf SDXL).

Modules, one job each:
  specs       the protocols as frozen data (prompt sources, resolutions, metric definitions, data files, gates)
  datafiles   data-file specs and their checks (missing, unknown key, wrong sha256)
  references  reference-statistics identity: made for a protocol, refused when made for another
  build       spec + the user's files -> (Protocol, LiteratureContext), without loading any model
  context     the run-time context: prompts, verified files, `build_metrics` (real weights via the resolver)
  gates       two-sided quality gates (MLPerf SDXL)

They are registered in `ddmd_bench.protocols.PROTOCOLS`: `get_protocol(name, limit, data={key: path})`.
This package imports nothing heavy at import time, so `ddmd_bench.protocols` can list these protocols cheaply.
"""
