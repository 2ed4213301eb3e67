"""An example ns3-mfs plugin package (see ``pyproject.toml`` for its entry points)."""
