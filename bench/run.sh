#!/bin/sh
# End-to-end benchmark of the seed query (group by country, device; count;
# sum(amount)) on a generated 20M-row file with 2 executors. Prints each
# run and the medians; bench/RESULTS.md records them with the machine.
#   usage: bench/run.sh [MINISPARK] [RUNS] [ROWS]
set -eu
bin=${1:-build/minispark}
runs=${2:-5}
rows=${3:-20000000}
data=bench/data/events_${rows}.csv
job=bench/data/q1_${rows}.json

mkdir -p bench/data
[ -f "$data" ] || "$bin" gen --rows "$rows" "$data"
sed "s#datasets/big_events_50k.csv#$data#; s#out/result.csv#bench/data/q1_result.csv#" \
    examples/agg.json > "$job"
cat "$data" > /dev/null   # warm page cache: we measure the engine, not the disk
bytes=$(stat -c %s "$data")

echo "minispark bench: seed query, $rows rows ($bytes bytes), local[2], 2 executors, $runs runs"
times=""
scans=""
i=0
while [ "$i" -lt "$runs" ]; do
    out=$("$bin" run "$job" --master 'local[2]' --conf spark.executor.instances=2 | tail -1)
    wall=$(echo "$out" | sed -n 's/.* finished in \([0-9.]*\) s.*/\1/p')
    scan=$(echo "$out" | sed -n 's/.*map side \([0-9.]*\) MB\/s per core.*/\1/p')
    echo "run $((i + 1)): ${wall} s, $(echo "$bytes $wall" | awk '{printf "%.0f", $1 / $2 / 1e6}') MB/s end to end, map side ${scan} MB/s per core"
    times="$times $wall"
    scans="$scans $scan"
    i=$((i + 1))
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mt=$(median $times)
echo "median: ${mt} s, $(echo "$bytes $mt" | awk '{printf "%.0f", $1 / $2 / 1e6}') MB/s end to end, map side $(median $scans) MB/s per core"
