"""The job runner: `odoo-operator job backup|restore` (SPEC §6, docs/backup-restore.md).

What it guarantees, module by module:

- `backup`: pg_dump streams into the artifact (zip in Odoo's layout, plain sql, or
  pg_dump's custom format) and up to S3 with a multipart upload as it is produced;
  memory is bounded by the part size and nothing is staged on disk. Any failure aborts
  the upload, so nothing is left under the key.
- `restore`: the artifact streams from S3 or a live Odoo into a new temporary database
  (and a temporary filestore next to the target); only a load that fully succeeded and
  verified is swapped in (`swap`). Any failure leaves the previous database and filestore
  as they were and removes the temporary ones.
- Both refuse client tools older than the server, log progress as structured lines that
  never carry a credential (`joblog`), and exit 0 only on full success, otherwise non-zero
  with exactly one line on stderr (`command`).
"""
