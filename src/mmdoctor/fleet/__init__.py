"""Many nodes: gather one `check --json` report per node (through Slurm, or from files gathered
any other way), summarise them, and plan one stack for all of them."""
