"""Evaluating trained policies the way DexMV's Table 1 reports them (evaluate.py) and the table
itself over tasks, methods and seeds (table1.py)."""
