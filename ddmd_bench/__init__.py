"""ddmd-bench: benchmark and evaluation harness for distilled diffusion generators."""

__version__ = "0.1.0"
