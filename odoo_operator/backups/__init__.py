"""Backup schedules' logic that needs no controller: cron ticks, object keys, retention,
and pruning a schedule's prefix on S3.

Pure modules (`cron`, `keys`, `retention`) import only the standard library and croniter;
`prune` talks to S3 with aiobotocore. The schedule controller (`controllers/`) and the
webhook (`webhook/rules.py`) use them; the runner (Job pods) does not.
"""
