"""What every command-line script shares: judge options, judge construction, budget pre-flight, exit codes."""
from __future__ import annotations

import argparse
import math
import os
import sqlite3
import sys
import traceback
from dataclasses import dataclass
from typing import Callable

from .cache import ResponseCache, default_cache_path
from .client import Decoding, JudgeClient
from .formats import MODES
from .judges import Judge
from .judges.llm import LLMJudge
from .judges.offline import OfflineJudge
from .pricing import PRICES_READ_ON, count_message_tokens, parse_price_per_mtok, price_for, token_count_method
from .rubric import DEFAULT_SPEC, Rubric, load_rubric
from .types import InputError, Sample

DEFAULT_BUDGET_USD = 2.50  # below the sandbox's hard $3.00 cap, leaving room for metering differences

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_LLM_UNUSED = 0, 1, 2, 3

EXIT_CODES_HELP = """Exit codes:
  0  results written (per-sample fallbacks included, each flagged and counted)
  1  internal error (one line on stderr; judgments already made are in the response cache, a re-run is free)
  2  bad input or options (one line on stderr naming the file or option; nothing written)
  3  --judge llm was asked for but the LLM graded no sample (results still written, the reason on stderr)"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with ONE-line errors: ``error: --budget-usd: must be finite (got 'nan')``, exit 2, no usage block."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """An integer >= 1 (concurrency, token caps, resample counts)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """A finite number > 0 (timeouts, poll intervals): ``nan``, ``inf`` and 0 are refused."""
    v = _finite(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return v


def budget_usd(text: str) -> float:
    """A finite dollar amount >= 0: ``nan`` or ``inf`` would silently disable the spending cap."""
    v = _finite(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return v


def finite_float(text: str) -> float:
    """Any finite number (thresholds): ``nan`` would make every comparison false."""
    return _finite(text)


def _finite(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return v


def add_judge_args(p: argparse.ArgumentParser, spec_flags: tuple[str, ...] = ("--rubric-spec",),
                   spec_help: str = "rubric spec JSON (default: rubric/release_notes.json)",
                   spec_default: str = str(DEFAULT_SPEC)) -> None:
    """The judge options; a script whose spec is not a rubric (winrate.py's pairwise spec) renames that option."""
    g = p.add_argument_group("judge")
    g.add_argument("--judge", choices=["auto", "llm", "offline"], default="auto",
                   help="auto = the LLM when OPENAI_API_KEY is set, otherwise the offline judge (default: auto)")
    g.add_argument("--model", default="gpt-4o-mini", help="LLM judge model (default: gpt-4o-mini)")
    g.add_argument(*spec_flags, dest="rubric_spec", default=spec_default, metavar="PATH", help=spec_help)
    g.add_argument("--input-field", metavar="NAME", default=None,
                   help="samples field holding the input (default: the spec's \"fields\", else input_ticket)")
    g.add_argument("--output-field", metavar="NAME", default=None,
                   help="samples field holding the graded output (default: the spec's \"fields\", else model_output)")
    g.add_argument("--concurrency", type=positive_int, default=8, help="concurrent LLM calls (default: 8)")
    g.add_argument("--budget-usd", type=budget_usd, default=DEFAULT_BUDGET_USD,
                   help=f"stop calling the LLM before this much is spent (default: {DEFAULT_BUDGET_USD})")
    g.add_argument("--price-per-mtok", metavar="IN,OUT", default=None,
                   help="USD per 1M prompt,completion tokens for the budget (default: the list price of --model; "
                        "a model not in the price table is priced at an upper bound of every listed price)")
    g.add_argument("--force", action="store_true",
                   help="start even if the pre-flight estimate exceeds the budget (default: off)")
    g.add_argument("--seed", type=int, default=0,
                   help="decoding seed sent to the LLM, and every resampling seed (default: 0)")
    g.add_argument("--max-completion-tokens", type=positive_int, default=350, help="judge reply cap (default: 350)")
    g.add_argument("--timeout", type=positive_float, default=60.0,
                   help="deadline in seconds for one LLM call, reply body included, before it is retried (default: 60)")
    g.add_argument("--cache", metavar="PATH", default=None,
                   help=f"response cache (default: {default_cache_path()})")
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache (default: off)")
    g.add_argument("--response-format", choices=MODES, default=MODES[0],
                   help="the first structured-output mode asked of the endpoint; a rejected mode moves the run to "
                        f"the next of {', '.join(MODES)} (default: {MODES[0]})")


def sample_fields(args: argparse.Namespace, rubric: Rubric) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The input and output field names to read samples with: the command line over the spec over the defaults."""
    ins = (args.input_field,) if getattr(args, "input_field", None) else rubric.input_fields
    outs = (args.output_field,) if getattr(args, "output_field", None) else rubric.output_fields
    return ins, outs


@dataclass
class JudgeSetup:
    rubric: Rubric
    judge: Judge
    fallback: OfflineJudge
    client: JudgeClient | None
    decoding: dict  # what rubric.json records


def build_judges(args: argparse.Namespace, rubric: Rubric | None = None) -> JudgeSetup:
    rubric = rubric or load_rubric(args.rubric_spec)
    try:
        offline = OfflineJudge(rubric)
    except ValueError as e:
        raise InputError(args.rubric_spec, f"offline checks: {e}") from None
    if offline.unchecked:
        print(f"warning: the rubric spec maps no offline checks to {', '.join(offline.unchecked)}: the offline judge "
              f"gives {'it' if len(offline.unchecked) == 1 else 'them'} the scale midpoint, flagged "
              "offline_dimension_unchecked", file=sys.stderr)
    use_llm = args.judge == "llm" or (args.judge == "auto" and os.environ.get("OPENAI_API_KEY"))
    if args.judge == "llm" and not os.environ.get("OPENAI_API_KEY"):
        raise InputError("OPENAI_API_KEY", "--judge llm needs OPENAI_API_KEY in the environment")
    decoding = Decoding(model=args.model, temperature=0.0, seed=args.seed,
                        max_completion_tokens=args.max_completion_tokens)
    llm_params = {**decoding.as_dict(), "response_format": {"type": "json_schema", "json_schema": rubric.json_schema()}}
    if not use_llm:
        print("judge: offline (deterministic, no API calls)"
              + (" - OPENAI_API_KEY is not set" if args.judge == "auto" else ""), file=sys.stderr)
        # The LLM parameters are still recorded (marked unused) so that rubric.json fully describes the LLM judge.
        return JudgeSetup(rubric, offline, offline, None, {"judge": "offline", "llm_used": False, **llm_params})
    cache = None if args.no_cache else open_cache(args.cache)
    price = None
    if getattr(args, "price_per_mtok", None):
        try:
            price = parse_price_per_mtok(args.price_per_mtok)
        except ValueError as e:
            raise InputError("--price-per-mtok", str(e)) from None
    client = JudgeClient(decoding, args.budget_usd, cache=cache, timeout_s=args.timeout, price=price,
                         response_format_mode=getattr(args, "response_format", MODES[0]))
    judge = LLMJudge(rubric, client)
    _, known = price_for(args.model)
    unlisted = (f"; {args.model} is not in the price table (read on {PRICES_READ_ON}): priced at an upper bound, "
                f"${client.price.input:g}/${client.price.output:g} per 1M tokens; pass --price-per-mtok IN,OUT")
    print(f"judge: {judge.name} at {client.endpoint} (budget ${args.budget_usd:g}"
          + ("" if known or price else unlisted) + ")", file=sys.stderr)
    record = {"judge": judge.name, "llm_used": True, **llm_params, "endpoint": client.endpoint,
              "cache": str(cache.path) if cache else None}
    return JudgeSetup(rubric, judge, offline, client, record)


def decoding_record(setup: JudgeSetup) -> dict:
    """What rubric.json records about decoding, with the response-format mode the run ended up using."""
    if setup.client is None:
        return setup.decoding
    return {**setup.decoding, "response_format_negotiated": setup.client.formats.summary()}


def open_cache(path: str | None) -> ResponseCache | None:
    """The response cache; an explicit --cache that cannot be opened is bad input, the default one only a warning."""
    target = path or default_cache_path()
    try:
        return ResponseCache(target)
    except (OSError, sqlite3.Error) as e:
        if path:
            raise InputError(path, f"cannot open the response cache ({e})") from None
        print(f"warning: response cache disabled, cannot open {target} ({e}); use --cache PATH", file=sys.stderr)
        return None


def preflight(setup: JudgeSetup, samples: list[Sample], force: bool, batch: bool = False,
              strict: bool = True) -> dict | None:
    """Estimate the job's worst-case cost before the first call; refuse (exit 2) when it exceeds the budget.

    Samples already in the response cache and empty outputs cost nothing and are left out of the estimate.
    ``strict=False`` (``--judge auto``, the sandbox contract that has no --force) warns instead of refusing: the
    running cap then stops calling at the budget and the rest is graded offline, flagged. Results beat none.
    """
    if setup.client is None:
        return None
    judge, client = setup.judge, setup.client
    d = client.decoding
    prompt_tokens = to_call = 0
    for s in samples:
        if not s.output.strip():
            continue
        msgs = judge.messages(s)
        if client.cached(msgs, judge.response_format, setup.rubric.spec_sha256):
            continue
        to_call += 1
        prompt_tokens += count_message_tokens(msgs)
    worst = client.cost_usd(prompt_tokens, to_call * d.max_completion_tokens, batch=batch)
    est = {"samples_to_call": to_call, "prompt_tokens": prompt_tokens,
           "completion_tokens_cap": to_call * d.max_completion_tokens, "worst_case_usd": round(worst, 4),
           "budget_usd": client.budget_usd, "batch_price": batch, "token_count_method": token_count_method(),
           "prices_read_on": PRICES_READ_ON,
           "price_per_mtok": {"input": client.price.input, "output": client.price.output,
                              "source": client.price_source}}
    print(f"pre-flight: {to_call} call(s), ~{prompt_tokens} prompt tokens ({est['token_count_method']}), "
          f"worst case ${worst:.4f} of ${client.budget_usd:g} budget", file=sys.stderr)
    est["decision"] = "within_budget"
    if worst > client.budget_usd:
        if force:
            est["decision"] = "over_budget_forced"
            return est
        if not strict:
            est["decision"] = "over_budget_proceed_with_cap"
            print(f"warning: the worst case exceeds the budget; the LLM judges until ${client.budget_usd:g} is "
                  "reached and the rest is graded offline, flagged (--judge llm refuses instead)", file=sys.stderr)
            return est
        raise InputError("--budget-usd", f"estimated worst-case cost ${worst:.4f} for {to_call} call(s) exceeds the "
                                         f"budget ${client.budget_usd:g}; raise --budget-usd or pass --force")
    return est


def run_main(main: Callable[[], int]) -> None:
    """Exit 0 on success, 2 with one stderr line on bad input, 1 with one line on anything else."""
    try:
        code = main()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: nothing written for the unfinished run (cached judgments are kept)", file=sys.stderr)
        code = 130
    except Exception as e:  # an internal error: one line, the traceback only on request
        if os.environ.get("HARNESS_DEBUG"):
            traceback.print_exc()
        print(f"internal error: {type(e).__name__}: {e} (set HARNESS_DEBUG=1 for the traceback)", file=sys.stderr)
        code = EXIT_INTERNAL
    sys.exit(code)



def judge_usage(setup: JudgeSetup, results: list[dict]) -> dict:
    """What rubric.json's ``decoding`` records: the judge asked for and how many samples each judge actually graded.

    ``llm_used`` is true only when the LLM graded at least one sample (a run in which every sample fell back to the
    offline judge did not use it, whatever was requested).
    """
    graded_by: dict[str, int] = {}
    for r in results:
        graded_by[r["judge"]] = graded_by.get(r["judge"], 0) + 1
    n_llm = sum(v for k, v in graded_by.items() if k.startswith("llm:"))
    return {**decoding_record(setup), "llm_requested": setup.client is not None, "llm_used": n_llm > 0,
            "samples_graded_by": graded_by}


def llm_unused_reason(judge_option: str, setup: JudgeSetup, results: list[dict]) -> str | None:
    """Why an explicit ``--judge llm`` run must not exit 0: the LLM graded no (non-empty) sample. None otherwise."""
    if judge_option != "llm" or setup.client is None:
        return None
    gradable = [r for r in results if "empty_output" not in r["flags"]]
    if not gradable or any(r["judge"].startswith("llm:") for r in gradable):
        return None
    reasons: dict[str, int] = {}
    for r in gradable:
        for f in r["flags"]:
            if f.startswith("fallback_offline:"):
                reasons[f.split(":", 1)[1]] = reasons.get(f.split(":", 1)[1], 0) + 1
    why = setup.client.stopped or ", ".join(f"{k} x{v}" for k, v in sorted(reasons.items())) or "unknown"
    return (f"--judge llm was asked for but the LLM graded none of the {len(gradable)} sample(s) (all fell back "
            f"to the offline judge: {why}); results were written, flagged")


def cached_work_note(setup: JudgeSetup | None) -> str:
    """One clause for an error raised after judgments were made: they are not lost, a re-run does not pay again."""
    client = setup.client if setup else None
    if client is None:
        return "nothing was paid for (offline judge); re-run after fixing the cause"
    calls = client.usage.calls
    if client.cache is None:
        return f"{calls} call(s) were made and, with --no-cache, are not kept; re-running pays again"
    return (f"every valid judgment made ({calls} call(s)) is in the response cache {client.cache.path}: re-running "
            "the same command makes no new call for those samples")
