"""`odoo-operator run`: the operator process, and the one owner of its flags.

- `flags`: every flag defined once (`FLAGS`), parsed into the runtime's `ManagerOptions`
  and the operator's `OperatorSettings`;
- `command`: the click command;
- `process`: `serve(options, settings)`, which registers the controllers
  (`controllers.setup`) and runs the manager until SIGTERM/SIGINT.

Dependencies point one way: run -> controllers -> api + runtime; nothing imports run.
"""
