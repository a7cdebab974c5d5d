"""From traces to training data (docs/datasets.md).

- labelling policy v1 lives with the evaluators (`orion_lsp/evals/policy.py`):
  the one rule for good, bad and unlabeled turns, which `orion export` and
  `orion eval --report` both use.
- `ledger`: the project's turns read back from SQLite one at a time (streamed:
  an export never holds the ledger in memory), each with its model steps
  resolved to the exact requests and replies.
- `rows`: SFT, DPO and KTO rows in TRL's conversational format or OpenAI's
  fine-tuning chat format.
- `export`: `orion export`: data.jsonl, manifest.json, the dataset card, and a
  last scan that refuses to write a file that still matches a secret pattern.
- `replay`: `orion replay`: a stored request sent again to another model,
  each sample stored as a turn of its own and scored.
"""
