# Shared by the shell tests (sourced; needs `fail` and $py): whether two
# training run directories hold the same results.
# same_results A B WHAT: every file of B equals A's byte for byte, but what holds
# wall times or the command line: TensorBoard's event files, metadata.json,
# and the wall_seconds column of training_metrics.csv (compared without it).
same_results() {
  local a=$1 b=$2 what=$3
  diff -rq --exclude=tensorboard --exclude=metadata.json --exclude=training_metrics.csv "$a" "$b" > "$a.same_results.diff" ||
    fail "$what: differs from $a: $(head -5 "$a.same_results.diff")"
  "$py" - "$a/training_metrics.csv" "$b/training_metrics.csv" <<'PY' || fail "$what: training_metrics.csv differs"
import csv, sys
rows = [[{k: v for k, v in r.items() if k != "wall_seconds"} for r in csv.DictReader(open(f))] for f in sys.argv[1:]]
assert rows[0] == rows[1], (len(rows[0]), len(rows[1]))
PY
}
