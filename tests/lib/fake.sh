# SPDX-License-Identifier: ISC
# fake.sh — start/stop tests/fakesmtp.py from integration tests (bash).
# Needs common.sh loaded.  fake_start NAME SCENARIO [fakesmtp options...]
# sets FPORT_NAME-less globals: FPORT (port), FTRANS (client transcript).
FAKE_ADDR=${FAKE_ADDR:-127.0.0.4}
fake_start() {
    local name=$1 scen=$2; shift 2
    FTRANS=$T/fake-$name.transcript
    local pf=$T/fake-$name.port
    rm -f "$pf" "$FTRANS"
    $PY "$SRCDIR/tests/fakesmtp.py" --listen "$FAKE_ADDR" --port 0 --port-file "$pf" \
        --scenario "$scen" --transcript "$FTRANS" --lifetime 120 \
        --tls-cert "$T/ca/$FAKE_ADDR.pem" --tls-key "$T/ca/$FAKE_ADDR.key" \
        --user etrn --password fake-secret "$@" > "$T/fake-$name.log" 2>&1 &
    local pid=$!
    on_exit "kill $pid"
    FPID=$pid
    if ! wait_for 10 test -s "$pf"; then
        echo "fakesmtp did not start:"; cat "$T/fake-$name.log"
        return 1
    fi
    FPORT=$(cat "$pf")
}
fake_stop() { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null || true; }
