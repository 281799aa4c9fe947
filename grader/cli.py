"""What every command-line script shares: judge options, judge construction, budget pre-flight, exit codes."""
from __future__ import annotations

import argparse
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
from .pricing import PRICES_READ_ON, cost_usd, count_message_tokens, price_for, token_count_method
from .rubric import DEFAULT_SPEC, Rubric, load_rubric
from .types import InputError, Sample

DEFAULT_BUDGET_USD = 2.50  # below the sandbox's hard $3.00 cap, leaving room for metering differences

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def add_judge_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("judge")
    g.add_argument("--judge", choices=["auto", "llm", "offline"], default="auto",
                   help="auto = the LLM when OPENAI_API_KEY is set, otherwise the offline judge (default: auto)")
    g.add_argument("--model", default="gpt-4o-mini", help="LLM judge model (default: gpt-4o-mini)")
    g.add_argument("--rubric-spec", default=str(DEFAULT_SPEC), metavar="PATH",
                   help="rubric spec JSON (default: rubric/release_notes.json)")
    g.add_argument("--concurrency", type=positive_int, default=8, help="concurrent LLM calls (default: 8)")
    g.add_argument("--budget-usd", type=float, default=DEFAULT_BUDGET_USD,
                   help=f"stop calling the LLM before this much is spent (default: {DEFAULT_BUDGET_USD})")
    g.add_argument("--force", action="store_true", help="start even if the pre-flight estimate exceeds the budget")
    g.add_argument("--seed", type=int, default=0, help="decoding seed sent to the LLM, and every resampling seed")
    g.add_argument("--max-completion-tokens", type=positive_int, default=350, help="judge reply cap (default: 350)")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per LLM call before it is retried")
    g.add_argument("--cache", metavar="PATH", default=None,
                   help=f"response cache (default: {default_cache_path()})")
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
    g.add_argument("--response-format", choices=MODES, default=MODES[0],
                   help="the first structured-output mode asked of the endpoint; a rejected mode moves the run to "
                        f"the next of {', '.join(MODES)} (default: {MODES[0]})")


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
    client = JudgeClient(decoding, args.budget_usd, cache=cache, timeout_s=args.timeout,
                         response_format_mode=getattr(args, "response_format", MODES[0]))
    judge = LLMJudge(rubric, client)
    _, known = price_for(args.model)
    print(f"judge: {judge.name} at {client.endpoint} (budget ${args.budget_usd:g}"
          + ("" if known else "; unknown model, priced at the most expensive known model") + ")", file=sys.stderr)
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
    worst = cost_usd(d.model, prompt_tokens, to_call * d.max_completion_tokens, batch=batch)
    est = {"samples_to_call": to_call, "prompt_tokens": prompt_tokens,
           "completion_tokens_cap": to_call * d.max_completion_tokens, "worst_case_usd": round(worst, 4),
           "budget_usd": client.budget_usd, "batch_price": batch, "token_count_method": token_count_method(),
           "prices_read_on": PRICES_READ_ON}
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


def positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v
