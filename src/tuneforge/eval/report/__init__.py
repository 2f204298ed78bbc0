"""The regression report (`tuneforge eval --compare BASE --against RUN`): compare.py runs
it, verdicts.py decides, kl_probe.py and general.py measure general ability without
labels, overfitting.py reads the run's own curves, writing.py writes report.md/png."""
