"""Launch scripts, TRL style: `accelerate launch -m peft_pblora.scripts.parm --config parm.yaml` trains a PARM.

TRL's own `trl` command has a fixed list of scripts, so the plugin ships its script as a module to run with
`python -m` or `accelerate launch -m`.
"""
