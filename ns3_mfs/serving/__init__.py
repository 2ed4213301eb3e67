"""LLM serving workloads and models: requests, traces, arrival processes."""
