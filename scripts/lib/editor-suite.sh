# Sourced by editors/nvim/scripts/test.sh and editors/emacs/scripts/test.sh: the
# part of a headless editor suite that does not depend on the editor.
#
# The caller sets `files` (array of test files), `work` (the run's throwaway
# directory), `jobs` (parallel files) and defines `run_one FILE`, which runs
# one file with MARKER=$work in its environment and writes $work/<file>.log
# and $work/<file>.log.rc. Then:
#
#   run_suite EDITOR MARKER GREP_FLAGS RESULT_REGEX || status=$?
#
# runs the files in parallel, ends processes that outlived their editor (a
# server that does not exit, a model server of a crashed test: found by the
# marker only this run's processes carry), prints each file's results (the
# whole log of a failed one) and returns 1 when any file failed.

run_suite() {
  local editor="$1" marker="$2" grep_flags="$3" results="$4"
  local start f p left log rc failed=0
  start=$(date +%s)
  for f in "${files[@]}"; do
    run_one "$f" &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
  done
  wait

  _suite_leftovers() {
    for p in /proc/[0-9]*; do
      if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "$marker=$work"; then
        echo "${p#/proc/}"
      fi
    done
  }
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(_suite_leftovers)" ] && break; sleep 0.5; done
  left="$(_suite_leftovers | tr '\n' ' ')"
  if [ -n "$left" ]; then
    echo "warning: processes still running 5 s after their $editor exited (killed):" >&2
    for p in $left; do echo "  $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-160)" >&2; done
    kill $left 2>/dev/null || true
    sleep 1
    kill -9 $left 2>/dev/null || true
  fi

  for f in "${files[@]}"; do
    log="$work/$(basename "$f").log"
    rc="$(cat "$log.rc")"
    if [ "$rc" -ne 0 ]; then
      failed=1
      echo "=== $f (exit $rc) ==="
      cat "$log"
    else
      grep $grep_flags "$results" "$log" || true
    fi
  done
  echo "${editor,,} tests: $([ $failed -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start ))s"
  return "$failed"
}
