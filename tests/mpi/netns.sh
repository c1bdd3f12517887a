#!/bin/bash
# Two "hosts" on one machine (issue 23): network namespaces fer_ns_a (10.77.0.1) and fer_ns_b
# (10.77.0.2) joined by a veth pair, one fer-train rank in each, talking over TCP only
# (--mca btl tcp,self: no shared memory between them). mpirun runs in fer_ns_a and starts the
# daemon of the other host through a launch agent (mpirun --mca plm_rsh_agent) that does what
# ssh would: `ip netns exec` into the namespace of the host named in the hostfile. Also checks
# that a hostfile naming an unreachable host fails at start with a message naming it.
# usage: netns.sh FER_TRAIN MPIRUN with-mpi|without-mpi (meson test mpi/netns: whether fer-train
# was built with MPI); exit 77 = skipped, with the reason.
set -u
fer_train=$1
mpirun=${2:-}
built=${3:-with-mpi}
skip() { echo "skipped: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ -n "$mpirun" ] || skip "no mpirun (Debian: openmpi-bin)"
[ "$built" = with-mpi ] || skip "fer-train was built without MPI (meson -Dmpi=enabled)"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root (ip netns add)"
command -v ip >/dev/null || skip "no ip command (Debian: iproute2)"

tag=fer$$ # unique names: parallel runs of the test do not collide
ns_a=${tag}_a ns_b=${tag}_b
work=$(mktemp -d "${TMPDIR:-/tmp}/fer-netns-XXXXXX")
cleanup() {
    ip netns del "$ns_a" 2>/dev/null
    ip netns del "$ns_b" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns_a" 2>/dev/null || skip "ip netns add is not permitted here (container without CAP_SYS_ADMIN?)"
ip netns add "$ns_b" || fail "second namespace"
ip link add "${tag}va" type veth peer name "${tag}vb" 2>/dev/null || skip "veth pairs are not permitted here"
ip link set "${tag}va" netns "$ns_a" && ip link set "${tag}vb" netns "$ns_b" || fail "moving the veth ends"
ip -n "$ns_a" addr add 10.77.0.1/24 dev "${tag}va" && ip -n "$ns_b" addr add 10.77.0.2/24 dev "${tag}vb" ||
    fail "addresses"
ip -n "$ns_a" link set lo up && ip -n "$ns_a" link set "${tag}va" up && ip -n "$ns_b" link set lo up &&
    ip -n "$ns_b" link set "${tag}vb" up || fail "links up"
ip -n "$ns_a" route get 10.77.0.2 >/dev/null || fail "no route from $ns_a to 10.77.0.2"

# The launch agent: mpirun calls it as ssh (AGENT HOST COMMAND...).
cat > "$work/agent.sh" <<EOF
#!/bin/sh
host=\$1; shift
case "\$host" in
    10.77.0.1) ns=$ns_a ;;
    10.77.0.2) ns=$ns_b ;;
    *) echo "fer netns agent: cannot reach host \$host (no route to host)" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
chmod +x "$work/agent.sh"

# A FER-2013 CSV: 7 classes told apart by brightness, 6 training rows each, 2 val, 2 test.
awk 'BEGIN {
    srand(7); print "emotion,pixels,Usage"
    for (split_ = 0; split_ < 3; split_++) {
        usage = split_ == 0 ? "Training" : split_ == 1 ? "PublicTest" : "PrivateTest"
        rows = split_ == 0 ? 6 : 2
        for (c = 0; c < 7; c++) for (r = 0; r < rows; r++) {
            line = c ","
            for (i = 0; i < 2304; i++) line = line (i ? " " : "") int(20 + 30 * c + 15 * rand())
            print line "," usage
        }
    }
}' > "$work/fer2013.csv"

printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$work/hosts"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi_args=(--hostfile "$work/hosts" --mca plm_rsh_agent "$work/agent.sh"
          --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24
          --mca oob_tcp_if_include 10.77.0.0/24 --display-map)
# sanitizer runs: Open MPI's unloaded plugins leave allocations LeakSanitizer cannot attribute
[ -n "${ASAN_OPTIONS:-}" ] && mpi_args+=(-x "ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0")
train_args=(--data_root "$work/fer2013.csv" --runs_dir "$work/runs" --arch tiny --backend cpu
            --threads 1 --batch_size 16 --progress plain)

ip netns exec "$ns_a" timeout 120 "$mpirun" -np 2 "${mpi_args[@]}" \
    "$fer_train" "${train_args[@]}" --exp tcp --epochs 2 > "$work/tcp.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$work/tcp.log"; fail "2 ranks in 2 namespaces exited $rc"; }
grep -q "data-parallel: 2 ranks" "$work/tcp.log" || { cat "$work/tcp.log"; fail "not data-parallel"; }
# the job map (--display-map): rank 1 on the other host (rank 0 on mpirun's own node)
grep -A1 "Data for node: 10.77.0.2" "$work/tcp.log" | grep -q "Process rank: 1" ||
    { cat "$work/tcp.log"; fail "rank 1 did not run on host 10.77.0.2"; }
[ -s "$work/runs/tcp/metrics.json" ] && [ -s "$work/runs/tcp/last.fer" ] || fail "no metrics.json / last.fer"
echo "2 ranks on 2 hosts (network namespaces) over TCP: trained 2 epochs, metrics written"

# A hostfile with an unreachable host: fails at start, within the timeout, naming the host.
printf '10.77.0.1 slots=1\n10.77.0.9 slots=1\n' > "$work/hosts_bad"
start=$(date +%s)
ip netns exec "$ns_a" timeout 60 "$mpirun" -np 2 --hostfile "$work/hosts_bad" \
    --mca plm_rsh_agent "$work/agent.sh" --mca oob_tcp_if_include 10.77.0.0/24 \
    "$fer_train" "${train_args[@]}" --exp bad --epochs 1 > "$work/bad.log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$work/bad.log"; fail "unreachable host: exit $rc"; }
grep -q "10.77.0.9" "$work/bad.log" || { cat "$work/bad.log"; fail "the message does not name the host"; }
[ ! -e "$work/runs/bad/last.fer" ] || fail "the run started anyway"
echo "unreachable host in the hostfile: failed at start after ${took} s: $(grep -m1 "10.77.0.9" "$work/bad.log")"
echo "netns: all checks passed"
