"""Reconcilers of the odoo-operator kinds, built on `odoo_operator.runtime`."""
