"""The runner: the code inside backup and restore Job pods (`odoo-operator job backup|restore`).

SPEC §6, docs/backup-restore.md. It stands apart: it imports nothing else of the package
but the leaves `database_names` and `database_drop`, and never loads the Kubernetes
client (the command group loads it lazily; a test checks).

- `command`: the CLI; flags and environment in, exit status and one stderr line out.
- `backup`: pg_dump → artifact (zip, sql, dump) → S3 multipart upload, as one stream.
- `restore`: source (S3 or a live Odoo, `odoo_source`) → checked → `load` into a new
  temporary database → `swap` in place of the target, or everything put back.
- `load`: psql (and pg_restore) fed through `sqlfilter`, zip entries from `zipreader`,
  filestore files through `filestore`; every check must pass.
- `zipwriter` / `zipreader`: zip64 archives written and read front to back.
- `s3`, `pgtools`, `manifest`, `joblog`, `bridge` (worker thread ↔ event loop), `errors`.
- `pausepoints`: named points at every step, where tests hold the runner to stop it
  (a test-only hook, inert unless its environment variable is set).
"""
