# Shared by the sweep tests (sourced): a 2 x 2 x 2 sweep of `simulate` on a
# tiny network, the same eight configurations run by hand, and a comparison
# of every output file a point writes.

fail() { echo "FAIL: $*" >&2; exit 1; }

w_mu_0='[[0.1, 0.05], [0.2, 0.19]]'
w_mu_1='[[0.2, 0.05], [0.2, 0.19]]'

# write_sweep FILE: the sweep every test runs (8 points; point index
# = 4 * rate + 2 * w_mu + seed, the last axis varying fastest).
write_sweep() {
  cat > "$1" <<TOML
command = "simulate"
args = ["--no-figures"]
set = { "recurrent.topology.num_neurons" = 60, "recurrent.topology.num_assemblies" = 2, "feedforward.topology.num_neurons" = 20, "simulation.duration" = 200.0, "simulation.dt" = 1.0 }

[[axis]]
key = "feedforward.activity.mitral.firing_rate"
name = "rate"
values = [5.0, 20.0]

[[axis]]
key = "recurrent.weights.w_mu"
values = [ $w_mu_0, $w_mu_1 ]

[[axis]]
key = "simulation.seed"
values = [1, 2]
TOML
}

# run_by_hand BIN DIR: the eight configurations as single `simulate` runs,
# DIR/<index>/, typed out independently of the sweep's own overrides.
run_by_hand() {
  local bin=$1 dir=$2 r w s i rate wmu
  for r in 0 1; do
    for w in 0 1; do
      for s in 0 1; do
        i=$(( 4 * r + 2 * w + s ))
        rate=$([ $r -eq 0 ] && echo 5.0 || echo 20.0)
        wmu=$([ $w -eq 0 ] && echo "$w_mu_0" || echo "$w_mu_1")
        "$bin" simulate --set recurrent.topology.num_neurons=60 --set recurrent.topology.num_assemblies=2 \
          --set feedforward.topology.num_neurons=20 --set simulation.duration=200.0 --set simulation.dt=1.0 \
          --set feedforward.activity.mitral.firing_rate=$rate --set "recurrent.weights.w_mu=$wmu" \
          --set simulation.seed=$(( s + 1 )) --no-figures --threads 1 -o "$dir/$i" > /dev/null \
          || fail "by-hand run $i failed"
      done
    done
  done
}

# compare_runs SWEEP_DIR HAND_DIR: each point's files equal the by-hand
# run's, byte for byte (metadata.json holds times and the command: skipped),
# and the point holds nothing else but its marker.
compare_runs() {
  local sweep=$1 hand=$2 i run f
  for i in 0 1 2 3 4 5 6 7; do
    run=$(ls -d "$sweep"/runs/${i}_* 2> /dev/null) || fail "no run directory for point $i in $sweep"
    [ "$(echo "$run" | wc -l)" -eq 1 ] || fail "several run directories for point $i"
    grep -q '"state": "done"' "$run/sweep_point.json" || fail "point $i not done: $(cat "$run/sweep_point.json")"
    (cd "$hand/$i" && find . -type f ! -name metadata.json | sort) > "$hand/$i.files"
    (cd "$run" && find . -type f ! -name metadata.json ! -name sweep_point.json | sort) > "$hand/$i.sweep_files"
    cmp -s "$hand/$i.files" "$hand/$i.sweep_files" || fail "point $i: files differ from the by-hand run: $(diff "$hand/$i.files" "$hand/$i.sweep_files")"
    while read -r f; do
      cmp "$hand/$i/$f" "$run/$f" || fail "point $i: $f differs from the by-hand run"
    done < "$hand/$i.files"
    [ -s "$run/metadata.json" ] || fail "point $i: no metadata.json"
  done
}
