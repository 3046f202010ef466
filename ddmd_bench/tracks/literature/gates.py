"""The MLPerf Inference SDXL accuracy gate (the gate machinery itself is `ddmd_bench.gates`).

MLPerf Inference (SDXL, v5 rules) accepts a submission's accuracy run only if, on its 5,000 COCO-2014 prompts,
FID is in [23.01085758, 23.95007626] and CLIP score (100 cos, OpenCLIP ViT-B-32) is in [31.68631873, 31.81331801]
(docs/protocols.md).
"""

from __future__ import annotations

from ddmd_bench.gates import GateRange, QualityGate

MLPERF_SDXL_GATE = QualityGate(
    "mlperf-sdxl-accuracy",
    (GateRange("fid", 23.01085758, 23.95007626), GateRange("clip_score", 31.68631873, 31.81331801)),
    "MLPerf Inference rules v5, SDXL benchmark (closed division accuracy targets)",
)
