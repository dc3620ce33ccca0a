"""The local stack: the whole pipeline on one machine, on an embedded AWS (moto)."""
