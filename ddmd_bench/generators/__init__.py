"""Generators: anything that turns (prompts, seeds) into uint8 images and can describe itself.

`base` holds the contract and its optional capabilities, `resolve` turns names into generators through registries
that tracks and backends fill, `diffusers` runs a recipe's diffusers pipeline (built and checked by `pipelines`,
with the run options of `settings`). A track's own generators live in the track.
"""
