"""The embedded default's SQLite takes concurrent writers: they wait their turn, none fails as locked."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WRITER = """
import django, sys
django.setup()
from django.db import connection, transaction
for n in range(150):
    with transaction.atomic():  # read, then write: a deferred transaction would deadlock here
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM counter")
            cur.execute("INSERT INTO counter (writer) VALUES (%s)", [sys.argv[1]])
"""


def test_two_processes_writing_at_once_never_see_database_is_locked(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "xantuus.settings", "XANTUUS_VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}"}
    env.pop("REDIS_URL", None)
    setup = "import django; django.setup()\nfrom django.db import connection\n" \
            "connection.cursor().execute('CREATE TABLE counter (writer text)')"
    subprocess.run([sys.executable, "-c", setup], env=env, cwd=REPO, check=True, timeout=60)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, name], env=env, cwd=REPO,
                                stderr=subprocess.PIPE, text=True) for name in ("a", "b", "c")]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], errors
    count = "import django; django.setup()\nfrom django.db import connection\n" \
            "c = connection.cursor(); c.execute('SELECT count(*) FROM counter'); print(c.fetchone()[0])\n" \
            "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    out = subprocess.run([sys.executable, "-c", count], env=env, cwd=REPO, check=True, timeout=60,
                         capture_output=True, text=True).stdout.split()
    assert out == ["450", "wal"]
