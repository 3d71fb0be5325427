"""Real concurrency against PostgreSQL: many threads, each with its own connection, at once."""

import threading

from django.db import connection


def run_concurrently(count, work):
    """Run work(i) in `count` threads released together; each outcome is a result or an error."""
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def run(i):
        try:
            barrier.wait()
            outcomes[i] = work(i)
        except Exception as error:
            outcomes[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def errors(outcomes):
    return [o for o in outcomes if isinstance(o, Exception)]
