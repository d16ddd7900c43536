"""Temporal activities: the order workflow's I/O (ledger, carriers, notifications)."""

from temporalio import activity

# Every activity here is a short piece of work in a worker thread, most of them a database
# transaction. Temporal cancels a threaded activity by raising an exception inside its
# thread, at any line: one that lands between taking the SQLite writers' lock and entering
# the block that releases it leaves the lock taken, and every writer of the process waits
# for ever (a peak rehearsal stopped so, every process idle). They run to their end
# instead; their idempotency keys make a late finish harmless.
defn = activity.defn(no_thread_cancel_exception=True)
