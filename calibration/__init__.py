"""calibration: everything that turns judgments into figures people can trust.

``stats`` holds pure functions (no I/O): agreement, reliability, bootstrap intervals, power. ``probes`` rewrites
samples to measure bias and sensitivity; ``study`` is the agreement study that ``calibrate.py`` runs; ``report``
writes Markdown and plots. This package never calls the LLM client itself: it receives a grading function or a judge.

The sibling studies add their statistics and reports here: refusal rates, win rates, regression deltas.
"""
