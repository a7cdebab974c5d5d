"""Checkpoints and rewind: what a turn changed, and putting it back.

- `recorder.CheckpointingApplier`: wraps a turn's `EditApplier` (the seam
  every edit passes) and stores each file as the turn found it before its
  first change, and what the turn left.
- `rewind.Rewinder`: takes a turn and the later turns of its thread back:
  conflict check first (nothing restored when a file changed since), then
  one restore per file through a `RestoreTarget`, then the turns are marked
  rewound. `disk.DiskRestoreTarget` writes files atomically (the CLI); the
  editor's target is `server/rewind_edits.py` (`workspace/applyEdit`).

Rewind never runs git and never reads or writes inside `.git`.
"""
