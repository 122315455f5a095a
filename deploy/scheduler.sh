#!/bin/sh
# Periodic jobs for docker compose (Kubernetes runs the same commands as CronJobs).
# Every SCHEDULER_INTERVAL seconds (300): reminders (meetings and events) and retries, expired seat
# offers, unpaid event holds released, event refunds retried, facilitators reminded once of requests waiting 3 days, join requests
# unanswered for 14 days. Once a day (UTC): schedule the
# coming weeks, purge expired credentials and old messages' bodies.
# Every command is safe to run again or alongside another copy (row locks,
# idempotent scheduling), so a restart or a second scheduler does no harm.
# SCHEDULER_ONCE=1 runs one pass and exits, 1 if a command failed (tests/deploy).
set -u

interval="${SCHEDULER_INTERVAL:-300}"
last_daily=""
trap 'echo "scheduler: stopping"; exit 0' TERM INT

failed=0
run() {
    python manage.py "$@" && return 0
    status=$?
    failed=1
    echo "scheduler: manage.py $* failed (exit $status); the next pass tries again" >&2
}

while :; do
    run send_reminders
    run send_event_reminders
    run expire_seat_offers
    run expire_event_offers
    run expire_event_holds
    run issue_event_refunds
    run expire_join_requests
    today="$(date -u +%Y-%m-%d)"
    if [ "$today" != "$last_daily" ]; then
        run schedule_meetings --weeks 8
        run purge_expired_credentials
        run purge_notifications
        last_daily="$today"
    fi
    [ "${SCHEDULER_ONCE:-0}" = 1 ] && exit "$failed"
    # In the background, so a SIGTERM (docker stop) is handled at once.
    sleep "$interval" &
    wait $!
done
