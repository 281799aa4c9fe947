"""grader: everything that turns one item into a judgment.

The rubric and label specs (data under ``rubric/`` -> prompt, schema, rubric.json), the ``Judge`` protocol and its
backends (``judges.llm``, ``judges.offline``), the one LLM client (retries, budget, cache, pricing, Batch API),
grading with per-sample fallback and flags, input reading and validation, and injection detection.

The sibling studies add their judges here: refusal labels, pairwise verdicts. Their statistics and reports go to
``calibration``.
"""
