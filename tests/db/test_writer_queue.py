"""SQLite writers of several processes queue on one lock beside the database, instead of
polling SQLite's own lock with sleeps."""

import fcntl
import os
import threading

from sqlalchemy import text

from db.engine import make_engine, read_only, unit_of_work


def other_process_could_write(database: str) -> bool:
    """What another process's writer sees: the queue's lock free, or taken."""
    fd = os.open(f"{database}.writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_a_unit_of_work_holds_the_queue_for_every_process_until_it_ends(sqlite_url):
    database = sqlite_url.split("///", 1)[1]
    engine = make_engine(sqlite_url)
    with unit_of_work(engine) as session:
        session.execute(text("SELECT 1"))
        assert not other_process_could_write(database)
        with read_only(engine) as reader:  # readers never queue
            assert reader.execute(text("SELECT 1")).one() == (1,)
    assert other_process_could_write(database)
    with read_only(engine) as reader:
        reader.execute(text("SELECT 1"))
        assert other_process_could_write(database)
    engine.dispose()


def test_writers_of_two_engines_all_get_through_one_at_a_time(sqlite_url):
    """Two engines stand for two processes (each has its own queue position)."""
    engines = [make_engine(sqlite_url), make_engine(sqlite_url)]
    with unit_of_work(engines[0]) as session:
        session.execute(text("CREATE TABLE tally (n INTEGER)"))
        session.execute(text("INSERT INTO tally VALUES (0)"))
    inside = 0
    most_inside = 0
    guard = threading.Lock()

    def write(engine) -> None:
        nonlocal inside, most_inside
        for _ in range(25):
            with unit_of_work(engine) as session:
                with guard:
                    inside += 1
                    most_inside = max(most_inside, inside)
                n = session.execute(text("SELECT n FROM tally")).one()[0]
                session.execute(text("UPDATE tally SET n = :n"), params={"n": n + 1})
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write, args=(engines[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with read_only(engines[1]) as session:
        assert session.execute(text("SELECT n FROM tally")).one()[0] == 8 * 25
    assert most_inside == 1
    for engine in engines:
        engine.dispose()
