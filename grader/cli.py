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
from .judges import Judge
from .judges.llm import LLMJudge
from .judges.offline import OfflineJudge
from .pricing import PRICES_READ_ON, count_message_tokens, parse_price_per_mtok, price_for, token_count_method
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
    g.add_argument("--price-per-mtok", metavar="IN,OUT", default=None,
                   help="USD per 1M prompt,completion tokens for the budget (default: the list price of --model; "
                        "a model not in the price table is priced at an upper bound of every listed price)")
    g.add_argument("--force", action="store_true", help="start even if the pre-flight estimate exceeds the budget")
    g.add_argument("--seed", type=int, default=0, help="decoding seed sent to the LLM, and every resampling seed")
    g.add_argument("--max-completion-tokens", type=positive_int, default=350, help="judge reply cap (default: 350)")
    g.add_argument("--timeout", type=float, default=60.0,
                   help="deadline in seconds for one LLM call, reply body included, before it is retried (default: 60)")
    g.add_argument("--cache", metavar="PATH", default=None,
                   help=f"response cache (default: {default_cache_path()})")
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")


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
    price = None
    if getattr(args, "price_per_mtok", None):
        try:
            price = parse_price_per_mtok(args.price_per_mtok)
        except ValueError as e:
            raise InputError("--price-per-mtok", str(e)) from None
    client = JudgeClient(decoding, args.budget_usd, cache=cache, timeout_s=args.timeout, price=price)
    judge = LLMJudge(rubric, client)
    _, known = price_for(args.model)
    unlisted = (f"; {args.model} is not in the price table (read on {PRICES_READ_ON}): priced at an upper bound, "
                f"${client.price.input:g}/${client.price.output:g} per 1M tokens; pass --price-per-mtok IN,OUT")
    print(f"judge: {judge.name} at {client.endpoint} (budget ${args.budget_usd:g}"
          + ("" if known or price else unlisted) + ")", file=sys.stderr)
    record = {"judge": judge.name, "llm_used": True, **llm_params, "endpoint": client.endpoint,
              "cache": str(cache.path) if cache else None}
    return JudgeSetup(rubric, judge, offline, client, record)


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
        if client.cache is not None and client.cache.get(client.key_for(msgs, judge.response_format, setup.rubric.spec_sha256)):
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


def positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v
