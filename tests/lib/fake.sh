# SPDX-License-Identifier: ISC
# fake.sh — the one launcher of tests/fakesmtp.py for the integration tests
# (bash).  Needs common.sh loaded.
#
#   fake_run TAG ADDR PORT SCENARIO LIFETIME [fakesmtp options...]
#       start it on ADDR:PORT (0: any free port), inside network namespace
#       $FAKE_NS when that is set; files $T/fake-TAG.{port,transcript,log};
#       sets FPID, FTRANS, FAKE_PORT; killed on exit.  Returns 1 (with the
#       server's log) when it did not start within 10 s.
#   fake_start NAME SCENARIO [options...]
#       the scripted TLS relay most tests use: fake_run on $FAKE_ADDR (default
#       127.0.0.4), certificate $T/ca/ADDR.pem, user etrn, password
#       $FAKE_PASSWORD (default fake-secret), lifetime $FAKE_LIFETIME (120);
#       also sets FPORT
#   fake_stop          stop the last one started
FAKE_ADDR=${FAKE_ADDR:-127.0.0.4}
fake_run() {
    local tag=$1 addr=$2 port=$3 scen=$4 life=$5; shift 5
    local pre=()
    [ -n "${FAKE_NS:-}" ] && pre=(ip netns exec "$FAKE_NS")
    FTRANS=$T/fake-$tag.transcript
    local pf=$T/fake-$tag.port
    rm -f "$pf" "$FTRANS"
    "${pre[@]}" "$PY" "$SRCDIR/tests/fakesmtp.py" --listen "$addr" --port "$port" --port-file "$pf" \
        --scenario "$scen" --transcript "$FTRANS" --lifetime "$life" "$@" \
        </dev/null >"$T/fake-$tag.log" 2>&1 &
    FPID=$!
    on_exit "kill $FPID"
    if ! wait_for 10 test -s "$pf"; then
        echo "fakesmtp did not start:"; cat "$T/fake-$tag.log"
        return 1
    fi
    FAKE_PORT=$(cat "$pf")
}
fake_start() {
    local name=$1 scen=$2; shift 2
    fake_run "$name" "$FAKE_ADDR" 0 "$scen" "${FAKE_LIFETIME:-120}" \
        --tls-cert "$T/ca/$FAKE_ADDR.pem" --tls-key "$T/ca/$FAKE_ADDR.key" \
        --user etrn --password "${FAKE_PASSWORD:-fake-secret}" "$@" || return 1
    FPORT=$FAKE_PORT
}
fake_stop() { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null || true; }
