"""Evaluators: what turns each stored turn into a labelled datapoint.

Built-in evaluators read a turn from the ledger and write scores
(docs/protocol.md "Feedback and scores"); the `tests` evaluator runs the
workspace's own test command in a scratch copy; `orion eval` runs any of
them again over stored turns. Nothing here is imported at server start-up.
"""
