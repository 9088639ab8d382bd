# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tutorial: from a sync to a decided review queue, and back
#
# This notebook is kept as a plain Python script (jupytext's percent format): run it with
# `python docs/tutorial.py`, or open it in Jupyter with jupytext installed
# (`jupytext --to notebook docs/tutorial.py`). It writes its files into the current folder
# (run it in an empty one) and needs the `pandas` extra: `pip install "merge-engine[pandas]"`.
#
# It walks the whole job on a small synthetic district: plan, look at the review queue,
# export it to a spreadsheet, decide, import the decisions, apply them to a SQLite
# database, and undo.

# %%
import csv
from pathlib import Path

import pandas as pd

import merge_engine as me
from merge_engine.cli import main as merge_engine_cli
from merge_engine.testing.synthetic import generate_district

# %% [markdown]
# ## 1. A district and its first sync
#
# `generate_district` draws families, then renders them twice: the archived roster the
# teachers typed (typos, nicknames, missing birth dates, old guardian accounts) and the
# roster the first Clever sync created, here without birth dates (many syncs carry none).
# In real life these come from
# `me.read_roster("exports/archived")` and `me.read_roster("exports/clever")`.

# %%
district = generate_district(300, seed=4, synced_dob=False)
archived, synced = district.archived, district.synced
archived

# %% [markdown]
# ## 2. Plan
#
# Planning is read-only and deterministic. Each merge is `auto` (probable and
# unambiguous) or `review` (an admin decides).

# %%
plan = me.build_plan(archived, synced)
plan.write("plan.json")
print(repr(plan))
plan

# %% [markdown]
# ## 3. The review queue
#
# `plan.to_pandas()` has one row per merge, with each comparison's level and bits as
# columns: sort and filter it like any DataFrame.

# %%
merges = plan.to_pandas()
queue = merges[merges.decision == "review"].sort_values(["reasons", "confidence"])
queue[["archived_id", "synced_id", "confidence", "match_weight", "reasons"]].head(10)

# %% [markdown]
# One merge in a notebook cell shows its decision, confidence, reasons, competitors and a
# waterfall of each field's contribution:

# %%
first = plan.review[0]
print(first.explain())
first

# %% [markdown]
# ## 4. Load the district into a database
#
# Here a fresh SQLite file with the reference schema; a platform's PostgreSQL works the
# same way through `me.open_storage(url, mapping=...)`.

# %%
db = "tutorial.db"
Path(db).unlink(missing_ok=True)
loaded = me.load_rosters(f"sqlite:///{db}", archived, synced)
print(loaded.archived_students, "archived and", loaded.synced_students, "synced students loaded")

# %% [markdown]
# ## 5. Export the review queue, decide, import
#
# The sheet has one row per decision, the two records side by side by name, what differs
# in words, and the reasons with each competitor named. Rows are sorted so that similar
# cases sit together.

# %%
assert merge_engine_cli(["review", "export", "plan.json", "--db", db, "--out", "review.csv"]) == 0
sheet = pd.read_csv("review.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
sheet[["kind", "approval_id", "reason", "left_name", "right_name", "differs"]]

# %% [markdown]
# An admin writes `approve` or `reject` in the `decision` column, in a spreadsheet, and
# leaves a row blank to decide later. Here we play a reviewer who knows the answers: the
# synthetic district carries the truth (`district.truth`: archived id -> synced id). We
# decide the children and leave the guardian merges for later. A real reviewer reads the
# two records, and never approves two children onto one record: `review import` refuses
# that, with the line numbers.

# %%
with open("review.csv", newline="", encoding="utf-8-sig") as f:
    rows = list(csv.DictReader(f))
for row in rows:
    if row["kind"] in ("student", "archived_duplicate"):
        same_child = district.truth.get(row["left_id"]) == row["right_id"]
        row["decision"] = "approve" if same_child else "reject"
with open("review-decided.csv", "w", newline="", encoding="utf-8-sig") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
print(
    sum(r["decision"] == "approve" for r in rows),
    "approved,",
    sum(r["decision"] == "reject" for r in rows),
    "rejected,",
    sum(not r["decision"] for r in rows),
    "left for later",
)

# %%
assert (
    merge_engine_cli(
        ["review", "import", "plan.json", "review-decided.csv", "--out", "decisions.json"]
    )
    == 0
)

# %% [markdown]
# ## 6. Apply, then undo
#
# `apply --decisions` applies the `auto` merges and the approved items; each merge is
# all-or-nothing, journaled and audited. A dry run first shows the counts.

# %%
assert (
    merge_engine_cli(
        ["apply", "plan.json", "--db", db, "--decisions", "decisions.json", "--dry-run"]
    )
    == 0
)
assert merge_engine_cli(["apply", "plan.json", "--db", db, "--decisions", "decisions.json"]) == 0

# %%
storage = me.open_storage(f"sqlite:///{db}")
history = me.audit_history(storage)
print(len(history), "audit records;", me.plan_summaries(history)[0])

# %% [markdown]
# A pair that turns out wrong is undone on its own (`me.undo_plan(plan, storage,
# archived_ids={...})`, or `merge-engine undo plan.json --db tutorial.db --only ID`);
# here we undo the whole plan, which puts every row back where it was.

# %%
undone = me.undo_plan(plan, storage)
print(undone.counts)
remaining = me.plan_summaries(me.audit_history(storage))[0]
print("still applied after undo:", remaining.still_applied)
assert remaining.still_applied == 0
storage.close()

# %% [markdown]
# ## 7. Plan again: rejected pairs stay rejected
#
# `merge-engine plan ... --decisions decisions.json` builds the next plan without the pairs
# the reviewer rejected; each rejection is listed in its warnings.

# %%
assert (
    merge_engine_cli(["plan", "--db", db, "--out", "plan-2.json", "--decisions", "decisions.json"])
    == 0
)
plan2 = me.MergePlan.read("plan-2.json")
[w["message"] for w in plan2.warnings if "rejected" in w["message"]][:5]
