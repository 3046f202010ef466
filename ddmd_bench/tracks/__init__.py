"""Tracks: self-contained families of protocols and generators built on the generic layers (toy, literature).
Tracks import the layers below them and never each other."""
