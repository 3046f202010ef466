"""The toy track: a small synthetic world with shipped models, its protocol and its generators (CPU, offline).

The generic catalogues reach it through `plugins` (protocol, FID feature extractor) and `suite` (shipped models).
"""
