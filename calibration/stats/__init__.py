"""Calibration statistics as pure functions (no I/O): judge-vs-expert agreement with bootstrap
intervals, the human reliability ceiling, paired bias-probe deltas and discrimination power."""
from calibration.stats.agreement import (
    agreement,
    cohen_kappa,
    kappa_from_counts,
    residual_correlation,
    round_half_up,
)
from calibration.stats.bootstrap import bootstrap_ci, paired_delta, percentile_ci, resample_indices
from calibration.stats.power import mann_whitney_greater, n_for_power, power_at_n, power_summary
from calibration.stats.reliability import human_ceiling, krippendorff_alpha, leave_one_out_spearman, pairwise_kappa

__all__ = [
    "agreement",
    "bootstrap_ci",
    "cohen_kappa",
    "human_ceiling",
    "kappa_from_counts",
    "krippendorff_alpha",
    "leave_one_out_spearman",
    "mann_whitney_greater",
    "n_for_power",
    "paired_delta",
    "pairwise_kappa",
    "percentile_ci",
    "power_at_n",
    "power_summary",
    "resample_indices",
    "residual_correlation",
    "round_half_up",
]
