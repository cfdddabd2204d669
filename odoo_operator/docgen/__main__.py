"""`python -m odoo_operator.docgen`: rewrite every generated file of the repository."""

from odoo_operator.docgen.files import write_all

write_all()
