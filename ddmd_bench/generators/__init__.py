"""Generators: anything that turns (prompts, seeds) into uint8 images and can describe itself."""
