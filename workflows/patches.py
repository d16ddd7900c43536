"""Every change of the workflows' commands made under a patch, so that orders started before
it replay as they ran (docs/reliability.md, "Changing the workflows"). Once no open order
is older than a patch, its old branch goes and `workflow.patched` becomes
`workflow.deprecate_patch`; a later release drops the call and the name."""

# Notifications and read-model writes run as local activities (deprecated: no order from
# before it is open any more).
LOCAL_WRITES = "local-writes"
# An order books its carrier and its picking slot side by side, and keeps one timer per
# deadline instead of starting and cancelling one at every event it waits for
# (deprecated, as above).
FEWER_TASKS = "fewer-tasks"
# A shipment that misses its picking SLA moves only if another node keeps the promised
# date; otherwise its node gets one more picking day (moving it would start the work over,
# later), and only then is it taken back as before.
SLA_GRACE = "sla-grace"
# A node that ships (or a carrier that collects) a shipment the OMS had taken back: the
# field wins. The units leave the node's free stock, the shipment counts as shipped, and
# a duplicate planned for the same units is taken back before it leaves. Before, the
# event was ignored.
FIELD_WINS = "field-wins"
# A pre-order holds what it waits for: the units on hand in stock, the missing ones on
# supply lines (domain/future_stock.py), and it goes on when the supply's news reaches it
# (a receipt, a new date, a line cancelled). Before, it held nothing and slept until the
# supply's date, then sourced again.
PREORDER_HOLDS = "preorder-holds"
# An incident reads the orders it touches a page at a time (listed once in the database),
# saves the outcomes heard after each page and continues as new before its history nears
# Temporal's limits. Before, one activity returned every order, and the workflow kept
# every outcome until the end.
INCIDENT_PAGES = "incident-pages"
# A carrier event whose `at` cannot have happened (more than a day before the order was
# placed, or more than 5 minutes after the workflow's now) is noted and ignored. Before, it
# was applied: a delivery "next month" closed the order then and there, judged on that day.
CARRIER_TIME = "carrier-time"
