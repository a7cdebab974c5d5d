/**
 * `$/progress` work-done reports -> one line for the status bar.
 *
 * The server reports turns and repo-map indexing with work-done progress
 * (docs/protocol.md#progress). Pure so begin/report/end ordering is unit tested.
 */
export interface ProgressValue {
  kind: "begin" | "report" | "end";
  title?: string;
  message?: string;
  percentage?: number;
  cancellable?: boolean;
}

export interface ProgressEntry {
  title: string;
  message?: string;
  percentage?: number;
  cancellable: boolean;
}

export type ProgressState = ReadonlyMap<string, ProgressEntry>;

export function applyProgress(state: ProgressState, token: string, value: ProgressValue): ProgressState {
  const next = new Map(state);
  if (value.kind === "end") {
    next.delete(token);
    return next;
  }
  const prev = state.get(token);
  if (value.kind === "begin") {
    next.set(token, {
      title: value.title ?? "Working",
      message: value.message,
      percentage: value.percentage,
      cancellable: value.cancellable ?? false,
    });
  } else if (prev) {
    next.set(token, {
      ...prev,
      message: value.message ?? prev.message,
      percentage: value.percentage ?? prev.percentage,
      cancellable: value.cancellable ?? prev.cancellable,
    });
  }
  // A report for a token that never began is ignored, as the spec asks.
  return next;
}

/** The most recently begun work, e.g. "Indexing: 120 files 40%"; undefined when idle. */
export function progressText(state: ProgressState): string | undefined {
  let last: ProgressEntry | undefined;
  for (const entry of state.values()) last = entry;
  if (!last) return undefined;
  let text = last.title;
  if (last.message) text += `: ${last.message}`;
  if (last.percentage !== undefined) text += ` ${Math.round(last.percentage)}%`;
  return text;
}
