"""Running experiments: result files and (later) configs, sweeps and comparisons."""
