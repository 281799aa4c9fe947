"""A grading harness for free-form model outputs: rubric-driven LLM and offline judges, calibration statistics."""
