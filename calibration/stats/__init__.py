"""Calibration statistics as pure functions (no I/O): judge-vs-expert agreement with bootstrap
intervals, the human reliability ceiling, paired bias-probe deltas and discrimination power."""
from calibration.stats.agreement import (
    agreement,
    cohen_kappa,
    kappa_quadratic_unrounded,
    kappa_from_counts,
    residual_correlation,
    round_half_up,
)
from calibration.stats.bootstrap import (INTERVAL_METHOD, MIN_N_FOR_INTERVAL, bca_ci, bca_p_value, bootstrap_ci, holm,
                                         interval, paired_delta, percentile_ci, resample_indices, signed_rank_p)
from calibration.stats.power import (mann_whitney_greater, n_for_power, power_at_n, power_interval, power_summary,
                                     study_p_values)
from calibration.stats.reliability import (CEILING_MARGIN, ceiling_gap, human_ceiling, krippendorff_alpha,
                                           leave_one_out_spearman, pairwise_kappa)

__all__ = [
    "CEILING_MARGIN",
    "INTERVAL_METHOD",
    "MIN_N_FOR_INTERVAL",
    "agreement",
    "bca_ci",
    "bca_p_value",
    "ceiling_gap",
    "holm",
    "interval",
    "kappa_quadratic_unrounded",
    "power_interval",
    "signed_rank_p",
    "study_p_values",
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
