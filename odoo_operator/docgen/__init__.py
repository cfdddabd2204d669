"""Every file the repository commits that is generated from code, in one place.

`python -m odoo_operator.docgen` (from a checkout) rewrites them all; a test compares each
committed file with its generator, so a change to the models, the flags, the metrics, the
state table or the vendored Kubernetes definitions that is not regenerated fails the tests.

- `files`: the list of generated files and the function giving each one's content;
- `reference`: docs/reference.md (kinds and fields, commands, `run` flags);
- `runtime_tables`: the options and metrics tables inside docs/runtime.md.

The chart's CRDs (`api.crd`) and docs/state-machine.md (`controllers.instance.diagram`)
are rendered where their commands live; this package only collects them. It sits above
everything it documents, the command line included; nothing imports it.
"""
