"""Versioned leaderboard files: one per protocol version, append-only, fingerprint-checked."""
