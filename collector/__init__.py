"""The collector: receives hits over HTTP and puts them, unchanged, on the raw-hits topic."""
