"""PEFT tuners added by peft-pblora (one folder per method, as in `peft.tuners`)."""
