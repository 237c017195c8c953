"""The ablation benchmark's pieces, used by ``benchmarks/bench_ablations.py`` (the entry point).

- ``store``: a training run (``Run``), its result (``Outcome``), the JSON store of finished runs.
- ``runs``: which runs each part trains (configs, overrides, seeds, sweep points).
- ``runner``: training runs through ``pixl train`` subprocesses and summarising their metrics.
- ``tables``: the Markdown tables, paired differences and the result file of a part.
- ``analyses``: the parts that train nothing: feature compactness, gradient balance, step cost.
"""
