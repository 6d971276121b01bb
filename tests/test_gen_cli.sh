# SPDX-License-Identifier: GPL-3.0-or-later
# Command lines of invcsi-gen and invcsi-info: --help documents every option, bad
# options exit 2 with a message naming the option (and write nothing), run-time
# failures exit 1, and the end-of-run summary carries the delay-window warning and
# its --nc-full remedy (DESIGN.md section 2).
set -u
GEN="$INVCSI_APPS_DIR/invcsi-gen"
INFO="$INVCSI_APPS_DIR/invcsi-info"
if [ ! -x "$GEN" ] || [ ! -x "$INFO" ]; then
    echo "SKIP: invcsi-gen/invcsi-info not built in $INVCSI_APPS_DIR"
    exit 77
fi
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect STATUS NEEDLE CMD...: exit status STATUS and NEEDLE in stderr
expect() {
    local want="$1" needle="$2"
    shift 2
    "$@" >out.txt 2>err.txt
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "'$*' exited $rc, want $want; stderr: $(cat err.txt)"
    elif ! grep -qF -- "$needle" err.txt; then
        fail "'$*': stderr lacks '$needle': $(cat err.txt)"
    fi
}

# --help: exit 0, every option documented, with its default
"$GEN" --help >help.txt 2>&1 || fail "invcsi-gen --help exited $?"
for opt in --model --samples --seed --ds-ns --ds-lgstd --nt --nr --nc --fc-ghz --bw-mhz \
           --asd-deg --asa-deg --k-db --nc-full --threads --quiet --output --help \
           cdl-a cdl-b cdl-c cdl-d cdl-e "[cdl-c]" "[1000]" "[66" "[32]" "[28]" "[50]"; do
    grep -qF -- "$opt" help.txt || fail "invcsi-gen --help does not mention $opt"
done
"$INFO" --help >help.txt 2>&1 || fail "invcsi-info --help exited $?"
for opt in --sample --help invcsi deepmimo deepmimo-v2 cost2100 "r t k re im"; do
    grep -qF -- "$opt" help.txt || fail "invcsi-info --help does not mention $opt"
done

# bad options: exit 2, message naming the option, no output file
expect 2 "unknown option '--bogus'" "$GEN" --bogus -o x.mat
expect 2 "--samples" "$GEN" --samples 0 -o x.mat
expect 2 "--samples" "$GEN" --samples abc -o x.mat
expect 2 "--samples" "$GEN" --samples=-3 -o x.mat
expect 2 "unknown model 'cdl-z'" "$GEN" --model cdl-z -o x.mat
expect 2 "--nt" "$GEN" --nt 0 -o x.mat
expect 2 "--nc" "$GEN" --nc 1.5 -o x.mat
expect 2 "--ds-ns" "$GEN" --ds-ns -5 -o x.mat
expect 2 "--ds-lgstd" "$GEN" --ds-lgstd 3 -o x.mat
expect 2 "--fc-ghz" "$GEN" --fc-ghz nan -o x.mat
expect 2 "--bw-mhz" "$GEN" --bw-mhz 0 -o x.mat
expect 2 "--seed" "$GEN" --seed -1 -o x.mat
expect 2 "--asd-deg" "$GEN" --asd-deg 200 -o x.mat
expect 2 "--threads" "$GEN" --threads -2 -o x.mat
expect 2 "--seed needs a value" "$GEN" -o x.mat --seed
expect 2 "no output file" "$GEN" --samples 10
expect 2 "unexpected argument 'x.mat'" "$GEN" x.mat
# parameter errors the generator finds are option errors too
expect 2 "cdl-d and cdl-e only" "$GEN" --model cdl-a --k-db 5 -o x.mat
expect 2 "nc_full" "$GEN" --nc-full 16 -o x.mat
[ -e x.mat ] && fail "a bad command line wrote x.mat"
[ -e x.mat.tmp ] && fail "a bad command line left x.mat.tmp"

# run-time failures: exit 1 with the file named; no temporary left behind
expect 1 "no/such/dir/x.mat" "$GEN" --samples 5 --quiet -o no/such/dir/x.mat
mkdir -p adir.mat
expect 1 "adir.mat" "$GEN" --samples 5 --quiet -o adir.mat
[ -e adir.mat.tmp ] && fail "failed rename left adir.mat.tmp"

# a good run: summary on stdout, progress on stderr, no temporary
"$GEN" --model cdl-c --samples 20 --seed 3 --ds-lgstd 0 --nt=16 --nr 2 -o c.mat >out.txt 2>err.txt ||
    fail "cdl-c run exited $?: $(cat err.txt)"
for s in "model:           cdl-c" "20 of nr 2 x nt 16 x nc 32" "mean power per entry" \
         "delay window:    640.0 ns" "every cluster delay fits" "samples/s" "output:          c.mat"; do
    grep -qF -- "$s" out.txt || fail "cdl-c summary lacks '$s': $(cat out.txt)"
done
grep -q "generating: 20/20 samples" err.txt || fail "no progress on stderr: $(cat err.txt)"
[ -e c.mat.tmp ] && fail "c.mat.tmp left behind"
"$INFO" c.mat >info.txt 2>&1 || fail "invcsi-info c.mat exited $?: $(cat info.txt)"
grep -qF "nr x nt x nc:    2 x 16 x 32" info.txt || fail "info sizes: $(cat info.txt)"
grep -qF "seed:            3" info.txt || fail "info seed: $(cat info.txt)"

# CDL-D at the default 66 ns wraps around the 640 ns window: WARNING with the remedy
"$GEN" --model cdl-d --samples 10 --ds-lgstd 0 --quiet -o d.mat >out.txt 2>err.txt || fail "cdl-d run failed"
grep -q "^WARNING" out.txt || fail "cdl-d: no WARNING: $(cat out.txt)"
grep -qF -- "--nc-full 128" out.txt || fail "cdl-d: no --nc-full remedy: $(cat out.txt)"
[ -s err.txt ] && fail "--quiet still wrote to stderr: $(cat err.txt)"
# ... and with the remedy the summary says the delays are cut off instead
"$GEN" --model cdl-e --samples 10 --ds-lgstd 0 --quiet --nc-full 128 -o e.mat >out.txt 2>&1 ||
    fail "cdl-e --nc-full run failed: $(cat out.txt)"
grep -q "^WARNING" out.txt && fail "cdl-e --nc-full 128 still warns: $(cat out.txt)"
grep -qF "cut off by --nc-full 128" out.txt || fail "cdl-e: no cut-off note: $(cat out.txt)"

# invcsi-info usage errors: exit 2
expect 2 "no file given" "$INFO"
expect 2 "unknown option '--bogus'" "$INFO" c.mat --bogus
expect 2 "--sample" "$INFO" c.mat --sample x
expect 2 "more than one file" "$INFO" c.mat d.mat
expect 2 "out of range" "$INFO" c.mat --sample 20

echo "test_gen_cli: $fails failures"
[ "$fails" -eq 0 ]
