"""Names that vulture cannot see being used, for the dead-code check (`tests/unit/test_dead_code.py`).

Functions registered with a decorator (`@REGISTRY.register(...)`, click's `@group.command(...)`) are skipped by the
check's `--ignore-decorators` option, so they need no entry here. This file is read by vulture, never run: each line
names an attribute that is used by something vulture does not follow.
"""

_ = None  # vulture matches names only; the object they are read from does not matter

# torch.nn.Module.__call__ runs `forward`
_.forward

# torchmetrics reads this class attribute of every Metric subclass (ddmd_bench/metrics/states.py)
_.full_state_update

# Dataclass fields read through dataclasses.asdict / ** into model configs, fingerprints and records
_.out_channels  # tracks/toy/models.py TransformerConfig -> SD3Transformer2DModel(**asdict(...))
_.num_layers
_.attention_head_dim
_.num_attention_heads
_.joint_attention_dim
_.caption_projection_dim
_.pooled_projection_dim
_.pos_embed_max_size
_.prediction  # tracks/toy/models.py TeacherConfig, stored in checkpoints and manifests
_.hidden_size  # tracks/toy/text.py TextEncoderConfig -> CLIPTextConfig(**asdict(...))
_.intermediate_size
_.num_hidden_layers
_.seed_rule  # protocol.py Protocol: part of the fingerprinted contract
_.details  # metrics/base.py MetricValue: written into every result record

# ImageReward's projection heads: unused in the score, present so the official checkpoint loads tensor for tensor
_.vision_proj
_.text_proj

# evaluation/records.py Result: fields written to the result file by asdict, read back as JSON keys
_.created
_.schema_version

# cli/_app.py PromptFormat: read by click.Choice when it converts a value
_.case_sensitive

# PEP 562 module hooks: Python calls them for `ddmd_bench.evaluate` and `dir(ddmd_bench)` (ddmd_bench/__init__.py)
_.__getattr__
_.__dir__
