"""The demo: a simulated stablecoin economy, its end-to-end run, and its replay on a local node."""
