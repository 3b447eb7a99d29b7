"""The SLA rules as pure functions and models: no I/O, no clocks, safe inside workflows."""
