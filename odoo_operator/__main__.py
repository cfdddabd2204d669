from odoo_operator.cli import main

main()
