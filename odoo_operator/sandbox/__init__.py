"""The whole system on one machine: real etcd + kube-apiserver, PostgreSQL and S3.

The same launchers serve the `odoo-operator sandbox` command and the test fixtures.
"""
