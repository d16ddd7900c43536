"""Every activity runs to its end: a cancel exception raised inside its thread could leave
the SQLite writers' lock taken, and every writer of the worker waiting for ever."""

from temporalio.activity import _Definition

from worker.main import build_activities


def test_no_activity_is_interrupted_by_a_cancel_exception_in_its_thread(engine):
    activities = build_activities(engine)
    assert activities
    for fn in activities:
        definition = _Definition.must_from_callable(fn)
        assert definition.no_thread_cancel_exception, definition.name
