"""Formal properties of the gateware, proven with SymbiYosys (yowasp-sby) and Yices."""
